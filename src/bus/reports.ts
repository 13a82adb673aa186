// Agents' report messages, validated on arrival: the controller acts on them (ports turn
// ACTIVE, hosts stay alive), so a malformed or hostile report is refused whole, by field.
import { z } from 'zod';
import { ValidationError } from '../util/errors.js';
import type { HeartbeatMessage, StatusMessage } from './layout.js';

const portReport = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, 'a port id'),
    status: z.enum(['ACTIVE', 'DOWN', 'ERROR']),
    reason: z.string().max(2000).optional(),
    revision: z.number().int().nonnegative(),
  })
  .strict();

const statusMessage = z.object({ generation: z.number().int().nonnegative(), ports: z.array(portReport).max(100_000) }).strict();
const heartbeatMessage = z.object({ version: z.string().min(1).max(200), underlayAddress: z.string().max(64).optional() }).strict();

function parse<T>(schema: z.ZodType<T>, what: string, data: Uint8Array): T {
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder().decode(data));
  } catch {
    throw new ValidationError(what, 'not JSON');
  }
  const r = schema.safeParse(raw);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  throw new ValidationError([what, ...(issue?.path ?? []).map(String)].join('.'), issue?.message ?? 'invalid');
}

export const parseStatusMessage = (data: Uint8Array): StatusMessage => parse(statusMessage, 'status', data);
export const parseHeartbeatMessage = (data: Uint8Array): HeartbeatMessage => parse(heartbeatMessage, 'heartbeat', data);
