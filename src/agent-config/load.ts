import { loadConfigFile } from '../util/config-file.js';
import { agentConfigSchema, type AgentConfig } from './schema.js';

/** Load and validate an agent config file; errors name the field (`config.nats.url: ...`). */
export function loadAgentConfig(path: string): AgentConfig {
  return loadConfigFile(agentConfigSchema, path, 'agent config');
}
