// End-to-end latency in the lab (issue 5): API call -> port ACTIVE on its host, over N ports.
// Needs the lab up (`plumb lab up`). Ports are taps (binding:profile) on h1, created 8 at a
// time. For each port: the controller's share is the API call (IPAM + commit + response); the
// rest — publish over NATS, the agent's watch, reconcile, status report back — is measured from
// the port's created_at to the moment its status turned ACTIVE (updated_at).
//   npx tsx scripts/bench-lab.ts [--ports 1000]
import { parseArgs } from 'node:util';
import { api } from '../src/lab/controller.js';

const { values } = parseArgs({ options: { ports: { type: 'string', default: '1000' } } });
const N = Number(values.ports);
type Port = { id: string; status: string; created_at: string; updated_at: string };

const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? NaN;

const existing = (await api<{ networks: { id: string; name: string }[] }>('GET', '/v2.0/networks')).networks.find((n) => n.name === 'bench');
const network = existing ?? (await api<{ network: { id: string } }>('POST', '/v2.0/networks', { network: { name: 'bench', cidr: '10.250.0.0/21' } })).network;
const apiMs: number[] = [];
const ids: string[] = [];
let next = 0;
await Promise.all(
  Array.from({ length: 8 }, async () => {
    while (next < N) {
      const i = next++;
      const t = performance.now();
      const { port } = await api<{ port: Port }>('POST', '/v2.0/ports', { port: { network_id: network.id, device_id: `bench${Math.floor(i / 15)}`, 'binding:host_id': 'h1', 'binding:profile': { kind: 'tap' } } });
      apiMs.push(performance.now() - t);
      ids.push(port.id);
    }
  }),
);
const deadline = Date.now() + 120_000;
let ports: Port[] = [];
for (;;) {
  ports = (await api<{ ports: Port[] }>('GET', '/v2.0/ports')).ports.filter((p) => ids.includes(p.id));
  if (ports.every((p) => p.status === 'ACTIVE') || Date.now() > deadline) break;
  await new Promise((r) => setTimeout(r, 500));
}
const total = ports.filter((p) => p.status === 'ACTIVE').map((p) => Date.parse(p.updated_at) - Date.parse(p.created_at));
console.log(`${N} ports on h1 (taps), 8 concurrent API clients; ${total.length} ACTIVE`);
console.log(`  controller share (API call):           p50 ${pct(apiMs, 0.5).toFixed(1)} ms  p99 ${pct(apiMs, 0.99).toFixed(1)} ms`);
console.log(`  created -> ACTIVE (bus + agent + report): p50 ${pct(total, 0.5).toFixed(0)} ms  p99 ${pct(total, 0.99).toFixed(0)} ms  (target p99 < 100 ms end to end)`);
for (const id of ids) await api('DELETE', `/v2.0/ports/${id}`);
await api('DELETE', `/v2.0/networks/${network.id}`);
