import { loadConfiguredFile } from '../util/config-file.js';
import { agentConfigSchema, type AgentConfig } from './schema.js';

/** Load and validate an agent config file; errors name the field (`config.nats.url: ...`); a file that sets nothing is NotConfiguredError. */
export function loadAgentConfig(path: string): AgentConfig {
  return loadConfiguredFile(agentConfigSchema, path, 'agent config');
}
