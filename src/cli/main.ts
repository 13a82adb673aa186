// `plumb`: one executable, subcommands registered by each area in src/cli/commands/.
import { Command, CommanderError } from 'commander';
import { PlumbError, errorMessage } from '../util/errors.js';
import { PLUMB_VERSION } from '../util/version.js';

const program = new Command('plumb')
  .description('plumb: host network agent and controller for virtualization clusters')
  .version(PLUMB_VERSION)
  .showHelpAfterError()
  .exitOverride();

// The agent daemon loads only its own commands: the controller's SQLite and HTTP stacks would
// cost every hypervisor host memory for nothing (see docs/benchmarks.md, agent RSS).
const area = process.argv[2];
const areas: Record<string, () => Promise<(p: Command) => void>> = {
  agent: async () => (await import('./commands/agent.js')).registerAgentCommands,
  controller: async () => (await import('./commands/controller.js')).registerControllerCommands,
  lab: async () => (await import('./commands/lab.js')).registerLabCommands,
  bus: async () => (await import('./commands/bus.js')).registerBusCommands,
  // called by Ganeti for every NIC start: only the hook's few modules load
  hook: async () => (await import('./commands/hook.js')).registerHookCommands,
};
const only = area !== undefined ? areas[area] : undefined;
if (only) {
  (await only())(program);
} else {
  for (const load of Object.values(areas)) (await load())(program);
  (await import('./commands/client.js')).registerClientCommands(program);
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  // API errors print like kamaki does: "(409) IP address '192.168.3.5' is already in use"
  const apiError = err instanceof PlumbError && err.name === 'ApiRequestError';
  process.stderr.write(apiError ? `${err.message}\n` : `plumb: ${err instanceof PlumbError ? err.message : errorMessage(err)}\n`);
  process.exit(process.exitCode && process.exitCode !== 0 ? process.exitCode : 1);
}
