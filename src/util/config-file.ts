// Daemon config files: YAML validated with a zod schema; errors name the field
// (`config.nats.url: a nats:// or tls:// URL`) or the file that could not be read.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { z } from 'zod';
import { PlumbError, ValidationError, errorMessage } from './errors.js';

export function parseConfig<S extends z.ZodType>(schema: S, raw: unknown): z.infer<S> {
  const r = schema.safeParse(raw ?? {});
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new ValidationError(['config', ...(issue?.path ?? []).map(String)].join('.'), issue?.message ?? 'invalid');
  }
  return r.data;
}

/**
 * A config file that sets nothing (empty, or only comments): the state of the examples the Debian
 * packages install, so that a unit enabled at install does not start before an operator edits it.
 */
export class NotConfiguredError extends PlumbError {
  constructor(readonly path: string, what: string) {
    super(`${path}: the ${what} sets nothing yet (every setting is commented out); edit it first`);
  }
}

function readConfigFile(path: string, what: string): unknown {
  try {
    return parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ValidationError(path, `cannot read ${what}: ${errorMessage(err)}`);
  }
}

export function loadConfigFile<S extends z.ZodType>(schema: S, path: string, what: string): z.infer<S> {
  return parseConfig(schema, readConfigFile(path, what));
}

/** Like loadConfigFile, but a file that sets nothing is NotConfiguredError rather than defaults. */
export function loadConfiguredFile<S extends z.ZodType>(schema: S, path: string, what: string): z.infer<S> {
  const raw = readConfigFile(path, what);
  if (raw === null || raw === undefined) throw new NotConfiguredError(path, what);
  return parseConfig(schema, raw);
}
