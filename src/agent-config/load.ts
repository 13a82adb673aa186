import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { ValidationError, errorMessage } from '../util/errors.js';
import { agentConfigSchema, type AgentConfig } from './schema.js';

/** Load and validate an agent config file; errors name the field (`config.nats.url: ...`). */
export function loadAgentConfig(path: string): AgentConfig {
  let raw: unknown;
  try {
    raw = parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ValidationError(path, `cannot read agent config: ${errorMessage(err)}`);
  }
  const r = agentConfigSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    const field = ['config', ...(issue?.path ?? []).map(String)].join('.');
    throw new ValidationError(field, issue?.message ?? 'invalid');
  }
  return r.data;
}
