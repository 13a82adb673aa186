// The API fuzz at scale (issue 18): `npx tsx scripts/fuzz-api.ts [--requests 100000]
// [--clients 4] [--seed 18] [--check-every 50]`. A controller on loopback with a temporary
// database; --clients parallel clients send requests generated from the API's request schemas
// (test/helpers/api-fuzz.ts), every answer is checked (no 5xx, Neutron errors, 400s naming a
// field) and, every --check-every requests and at the end, the store's invariants. Prints the
// figures for docs/benchmarks.md; exits 1 on any problem.
import fc from 'fast-check';
import { parseArgs } from 'node:util';
import { requestArbitrary, type FuzzRequest } from '../test/helpers/api-fuzz.js';
import { FUZZ_PROJECTS, sendAndCheck, type FuzzTally } from '../test/helpers/fuzz-run.js';
import { storeProblems } from '../test/helpers/store-invariants.js';
import { testController } from '../test/controller/fixture.js';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '100000' },
    clients: { type: 'string', default: '4' },
    seed: { type: 'string', default: '18' },
    'check-every': { type: 'string', default: '50' },
  },
});
const total = Number(values.requests);
const clients = Number(values.clients);
const checkEvery = Number(values['check-every']);

const ctl = await testController({ privateNetworks: { enabledTypes: ['MAC_FILTERED', 'VXLAN'], cidrRange: '10.0.0.0/14' } });
const tally: FuzzTally = { requests: 0, byStatus: new Map() };
const problems: string[] = [];
let checks = 0;
let peakRss = 0;
const started = Date.now();
// one stream of requests, taken by the clients in order (reproducible for one client),
// generated 1,000 at a time so that memory holds one batch
const arbitrary = requestArbitrary();
let batch: ReturnType<typeof fc.sample<FuzzRequest>> = [];
let batchStart = 0;
const requestAt = (i: number): FuzzRequest | undefined => {
  if (i >= total) return undefined;
  if (i >= batchStart + batch.length || i < batchStart) {
    batchStart = i - (i % 1000);
    batch = fc.sample(arbitrary, { seed: Number(values.seed) + batchStart / 1000, numRuns: 1000 });
  }
  return batch[i - batchStart];
};
let next = 0;
let sinceCheck = 0;
let checking: Promise<void> | undefined;

const check = async (): Promise<void> => {
  checks++;
  const broken = await storeProblems(ctl.service.store, ctl.service.cfg, FUZZ_PROJECTS);
  if (broken.length) problems.push(`after ${tally.requests} requests: ${broken.join('; ')}`);
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
};

await Promise.all(
  Array.from({ length: clients }, async () => {
    while (next < total && problems.length < 20) {
      const req = requestAt(next++);
      if (!req) break;
      const bad = await sendAndCheck(ctl, req, tally, false);
      if (bad) problems.push(`${bad} body ${JSON.stringify(req.body)?.slice(0, 300)}`);
      if (++sinceCheck >= checkEvery) {
        sinceCheck = 0;
        checking ??= check().finally(() => (checking = undefined));
        await checking;
      }
      if (tally.requests % 10_000 === 0) console.log(`  ${tally.requests} requests, ${((tally.requests * 1000) / (Date.now() - started)).toFixed(0)}/s`);
    }
  }),
);
await check();
const ms = Date.now() - started;
const counts = await ctl.service.store.read(async (r) => ({ networks: (await r.networks(undefined)).length, subnets: (await r.subnets()).length, ports: (await r.ports(undefined)).length, floatingIps: (await r.floatingIps(undefined)).length }));
await ctl.close();
const statuses = [...tally.byStatus.entries()].sort(([a], [b]) => a - b).map(([s, n]) => `${s}: ${n}`).join(', ');
console.log(`\n== API fuzz: ${tally.requests} requests from ${clients} clients in ${(ms / 1000).toFixed(1)} s (${((tally.requests * 1000) / ms).toFixed(0)} requests/s), seed ${values.seed}`);
console.log(`answers: ${statuses}`);
console.log(`5xx: ${[...tally.byStatus.entries()].filter(([s]) => s >= 500).reduce((n, [, c]) => n + c, 0)}; store invariant checks: ${checks}; peak RSS ${(peakRss / 1e6).toFixed(0)} MB`);
console.log(`store at the end: ${counts.networks} networks, ${counts.subnets} subnets, ${counts.ports} ports, ${counts.floatingIps} floating IPs`);
console.log(problems.length ? `PROBLEMS (${problems.length}):\n${problems.map((p) => `  - ${p}`).join('\n')}` : 'problems: none');
process.exit(problems.length ? 1 : 0);
