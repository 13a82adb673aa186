// `plumb`: one executable, subcommands registered by each area in src/cli/commands/.
import { Command, CommanderError } from 'commander';
import { registerAgentCommands } from './commands/agent.js';
import { registerControllerCommands } from './commands/controller.js';
import { registerClientCommands } from './commands/client.js';
import { registerLabCommands } from './commands/lab.js';
import { registerBusCommands } from './commands/bus.js';
import { PlumbError, errorMessage } from '../util/errors.js';

const program = new Command('plumb')
  .description('plumb: host network agent and controller for virtualization clusters')
  .version('0.1.0')
  .showHelpAfterError()
  .exitOverride();

registerAgentCommands(program);
registerControllerCommands(program);
registerClientCommands(program);
registerLabCommands(program);
registerBusCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  process.stderr.write(`plumb: ${err instanceof PlumbError ? err.message : errorMessage(err)}\n`);
  process.exit(process.exitCode && process.exitCode !== 0 ? process.exitCode : 1);
}
