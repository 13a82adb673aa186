// Controller benchmark (issue 3): port creation with address allocation at 64 concurrent
// clients, against a minimal no-op node:http handler measured in the same run (the ratio is the
// figure that travels between machines).
//   npx tsx scripts/bench-controller.ts [--ports 3000] [--clients 64]
import { createServer } from 'node:http';
import { Worker } from 'node:worker_threads';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseControllerConfig } from '../src/controller/config.js';
import { startController } from '../src/controller/server.js';

const { values } = parseArgs({ options: { ports: { type: 'string', default: '3000' }, clients: { type: 'string', default: '64' } } });
const TOTAL = Number(values.ports);
const CLIENTS = Number(values.clients);
const auth = `Basic ${Buffer.from('bench:bench').toString('base64')}`;

function load(url: string, bodyKind: 'noop' | 'port', networkId = ''): Promise<{ rate: number; p50: number; p99: number; errors: number }> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./load-worker.mjs', import.meta.url), { workerData: { url, total: TOTAL, clients: CLIENTS, auth, bodyKind, networkId } });
    w.once('message', resolve);
    w.once('error', reject);
  });
}

const noop = createServer((req, res) => {
  req.resume();
  req.on('end', () => res.writeHead(201, { 'content-type': 'application/json' }).end('{"port":{}}'));
});
await new Promise<void>((r) => noop.listen(0, '127.0.0.1', r));
const noopPort = (noop.address() as { port: number }).port;

const ctl = await startController(
  parseControllerConfig({
    listen: '127.0.0.1:0',
    database: join(mkdtempSync(join(tmpdir(), 'plumb-bench-')), 'c.db'),
    users: [{ name: 'bench', password: 'bench', project: 'bench' }],
    quotas: { networks: 5, devicesPerNetwork: 100000, nicsPerDevice: 100000 },
  }),
);
const net = await (await fetch(`${ctl.url}/v2.0/networks`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body: JSON.stringify({ network: { name: 'bench', cidr: '10.128.0.0/16' } }) })).json() as { network: { id: string } };

const base = await load(`http://127.0.0.1:${noopPort}/`, 'noop');
// one device per port, like VMs booting (a device has at most 15 NICs)
const ports = await load(`${ctl.url}/v2.0/ports`, 'port', net.network.id);
console.log(`${TOTAL} requests, ${CLIENTS} concurrent clients`);
console.log(`  baseline no-op node:http handler: ${base.rate.toFixed(0)} req/s, p50 ${base.p50.toFixed(2)} ms, p99 ${base.p99.toFixed(2)} ms`);
console.log(`  plumb port create (IPAM + MAC, SQLite WAL): ${ports.rate.toFixed(0)} ports/s, p50 ${ports.p50.toFixed(2)} ms, p99 ${ports.p99.toFixed(2)} ms, errors ${ports.errors}`);
console.log(`  ratio to baseline: throughput ${(ports.rate / base.rate).toFixed(2)}, p99 ${(ports.p99 / base.p99).toFixed(2)}x  (target >= 1000 ports/s, p99 <= 20 ms)`);
await ctl.close();
noop.close();
