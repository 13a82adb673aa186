// `plumb bus …`: credentials and nats-server configuration for an installation.
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { generateCredentials, seedPath } from '../../bus/credentials.js';
import { serverConfig } from '../../bus/server-config.js';
import { ValidationError } from '../../util/errors.js';

const collect = (v: string, acc: string[]): string[] => [...acc, v];

export function registerBusCommands(program: Command): void {
  const bus = program.command('bus').description('NATS credentials and server configuration');

  bus
    .command('gen-creds')
    .description('create nkey seeds for the controller and each host (kept if present; files 0600)')
    .requiredOption('--out <dir>', 'credentials directory')
    .option('--host <id>', 'a hypervisor host id (repeatable)', collect, [] as string[])
    .action((o: { out: string; host: string[] }) => {
      if (o.host.length === 0) throw new ValidationError('--host', 'name at least one host');
      for (const id of generateCredentials(o.out, o.host)) process.stdout.write(`${id.name.padEnd(12)} ${id.publicKey}  ${seedPath(o.out, id.name)}\n`);
    });

  bus
    .command('gen-server-config')
    .description('write a nats-server config: JetStream, nkey users, each host limited to its own keys and subjects')
    .requiredOption('--creds <dir>', 'credentials directory (plumb bus gen-creds)')
    .option('--host <id>', 'a hypervisor host id (repeatable)', collect, [] as string[])
    .option('--listen <addr>', 'listen address', '0.0.0.0')
    .option('--port <n>', 'client port', '4222')
    .option('--store <dir>', 'JetStream store directory', '/var/lib/nats/jetstream')
    .option('--tls-cert <file>')
    .option('--tls-key <file>')
    .option('--tls-ca <file>')
    .requiredOption('--out <file>', 'where to write the config')
    .action((o: { creds: string; host: string[]; listen: string; port: string; store: string; tlsCert?: string; tlsKey?: string; tlsCa?: string; out: string }) => {
      const port = Number(o.port);
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw new ValidationError('--port', `'${o.port}' is not a TCP port`);
      if ((o.tlsCert === undefined) !== (o.tlsKey === undefined)) throw new ValidationError('--tls-key', 'TLS needs both --tls-cert and --tls-key');
      const ids = generateCredentials(o.creds, o.host);
      const tls = o.tlsCert && o.tlsKey ? { cert: o.tlsCert, key: o.tlsKey, ...(o.tlsCa ? { ca: o.tlsCa } : {}) } : undefined;
      writeFileSync(o.out, serverConfig(ids, { port, host: o.listen, storeDir: o.store, ...(tls ? { tls } : {}) }), { mode: 0o640 });
      process.stdout.write(`wrote ${o.out} (${ids.length} users)\n`);
    });
}
