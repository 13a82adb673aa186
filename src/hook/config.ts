// /etc/plumb/hook.yaml: how a VM manager's hook on a hypervisor node reaches the controller.
// Ganeti runs its NIC scripts with a cleaned environment, so nothing can come from PLUMB_* there:
// the file is the only source, read by root (the password is a service credential, like Nova's).
import { hostname } from 'node:os';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { loadConfigFile } from '../util/config-file.js';
import { ValidationError, errorMessage } from '../util/errors.js';

export const DEFAULT_HOOK_CONFIG = '/etc/plumb/hook.yaml';

const hookConfigSchema = z
  .object({
    controller: z
      .object({
        url: z.url({ protocol: /^https?$/, error: 'an http:// or https:// URL' }),
        user: z.string().min(1),
        password: z.string().min(1).optional(),
        /** read at each run, so the credential can be rotated without touching this file */
        passwordFile: z.string().min(1).optional(),
      })
      .strict()
      .refine((c) => (c.password === undefined) !== (c.passwordFile === undefined), 'give exactly one of password and passwordFile'),
    /** this node's name as the agent reports it (binding:host_id); defaults to the hostname */
    host: z.string().min(1).max(253).optional(),
    /** how long ganeti-ifup waits for the agent to apply the port before failing the NIC */
    timeoutSeconds: z.number().positive().max(600).default(60),
  })
  .strict();

export interface HookConfig {
  url: string;
  user: string;
  password: string;
  host: string;
  timeoutMs: number;
}

export function loadHookConfig(path: string): HookConfig {
  const c = loadConfigFile(hookConfigSchema, path, 'hook config');
  let password = c.controller.password;
  if (password === undefined) {
    const file = c.controller.passwordFile ?? '';
    try {
      password = readFileSync(file, 'utf8').trim();
    } catch (err) {
      throw new ValidationError('config.controller.passwordFile', `cannot read ${file}: ${errorMessage(err)}`);
    }
  }
  return { url: c.controller.url.replace(/\/$/, ''), user: c.controller.user, password, host: c.host ?? hostname(), timeoutMs: c.timeoutSeconds * 1000 };
}
