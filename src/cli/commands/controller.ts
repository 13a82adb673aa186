// `plumb controller run|check-config|hash-password`.
import type { Command } from 'commander';
import { loadControllerConfig } from '../../controller/config.js';
import { startController } from '../../controller/server.js';
import { hashPassword } from '../../controller/auth.js';
import { serveUntilSignal } from '../until-signal.js';
import { addCheckConfigCommand } from '../check-config.js';
import { logger } from '../../util/log.js';

export function registerControllerCommands(program: Command): void {
  const ctl = program.command('controller').description('the controller: Neutron-style API, IPAM, quotas, desired state over NATS');

  ctl
    .command('run')
    .requiredOption('--config <file>', 'controller config (YAML)')
    .action(async (o: { config: string }) => {
      const running = await startController(loadControllerConfig(o.config));
      await serveUntilSignal(logger('controller'), () => running.close(), `serving ${running.url}`);
    });

  addCheckConfigCommand(ctl, 'controller', (path) => {
    const cfg = loadControllerConfig(path);
    return `${cfg.publicNetworks.length} public networks, ${cfg.users.length} users, listen ${cfg.listen}`;
  });

  ctl
    .command('hash-password')
    .argument('<password>')
    .description('print a passwordHash for the users section')
    .action((pw: string) => void process.stdout.write(`${hashPassword(pw)}\n`));
}
