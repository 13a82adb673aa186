// Daemon config files: YAML validated with a zod schema; errors name the field
// (`config.nats.url: a nats:// or tls:// URL`) or the file that could not be read.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { z } from 'zod';
import { ValidationError, errorMessage } from './errors.js';

export function parseConfig<S extends z.ZodType>(schema: S, raw: unknown): z.infer<S> {
  const r = schema.safeParse(raw ?? {});
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new ValidationError(['config', ...(issue?.path ?? []).map(String)].join('.'), issue?.message ?? 'invalid');
  }
  return r.data;
}

export function loadConfigFile<S extends z.ZodType>(schema: S, path: string, what: string): z.infer<S> {
  let raw: unknown;
  try {
    raw = parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ValidationError(path, `cannot read ${what}: ${errorMessage(err)}`);
  }
  return parseConfig(schema, raw);
}
