// The agent's steady-state cost: one reconcile pass that adds one tap port to a host that already
// has N ports (what each port created through the API costs the agent in the lab), with the
// observed-state cache and port security as the running agent has them. Baseline in the same
// run: the same pass on a host with 10 ports, so the ratio is what the host's size adds.
//   npx tsx scripts/bench-agent-pass.ts [--ports 1000] [--passes 60]
// Root; throwaway namespaces only.
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { openKernelHandle } from '../src/kernel/handle.js';
import { ObservedCache } from '../src/agent/observed-cache.js';
import { Reconciler } from '../src/agent/reconciler.js';
import { hostExtensions } from '../src/agent/extensions.js';
import { validateHostState } from '../src/state/validate.js';
import { logger } from '../src/util/log.js';

const { values } = parseArgs({ options: { ports: { type: 'string', default: '1000' }, passes: { type: 'string', default: '60' } } });
const PORTS = Number(values.ports);
const PASSES = Number(values.passes);
const sh = (...a: string[]): string => execFileSync(a[0] as string, a.slice(1), { encoding: 'utf8' });
const hex = (i: number): string => `${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
const port = (i: number) => Object.freeze({ id: `p${i}`, network: 'n1', mac: `aa:01:00:00:${hex(i)}`, addresses: [`10.${(i >> 8) & 255}.${i & 255}.2`], firewallProfile: 'ENABLED', revision: 1, kind: 'tap' });
const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? NaN;

interface Sample {
  total: number;
  validate: number;
  plan: number;
  execute: number;
  firewall: number;
}

async function measure(base: number): Promise<Sample[]> {
  const ns = `pt-pass-${process.pid}-${base}`;
  sh('ip', 'netns', 'add', ns);
  try {
    sh('ip', '-n', ns, 'link', 'set', 'lo', 'up');
    const handle = await openKernelHandle({ netns: ns });
    const cache = new ObservedCache(handle);
    const reconciler = new Reconciler(handle, { cache, extensions: hostExtensions({ netns: ns, firewall: true }), log: logger('bench').child({ level: 'warn' }) });
    const network = Object.freeze({ id: 'n1', type: 'MAC_FILTERED', macPrefix: 'aa:01', subnets: [{ cidr: '10.0.0.0/8', gateway: '10.0.0.1' }] });
    const ports = Array.from({ length: base }, (_, i) => port(i));
    const doc = (generation: number) => ({ schemaVersion: 1, generation, host: { name: 'bench', tapOwner: 0, macFiltered: { bridge: 'plumbmf0' } }, networks: [network], ports: [...ports] });
    const first = await reconciler.reconcile(validateHostState(doc(1)));
    if (!first.converged) throw new Error(`initial converge failed: ${JSON.stringify([...first.failures, ...first.problems].slice(0, 2))}`);
    const out: Sample[] = [];
    for (let k = 0; k < PASSES; k++) {
      ports.push(port(base + k));
      const t0 = performance.now();
      const v = validateHostState(doc(k + 2));
      const validate = performance.now() - t0;
      const r = await reconciler.reconcile(v);
      const total = performance.now() - t0;
      if (!r.converged || r.ops.length === 0) throw new Error(`pass ${k} did not add the port: ${JSON.stringify([...r.failures, ...r.problems].slice(0, 2))}`);
      out.push({ total, validate, plan: r.phasesMs.plan ?? NaN, execute: r.phasesMs.execute ?? NaN, firewall: r.phasesMs.firewall ?? NaN });
    }
    cache.close();
    handle.close();
    return out;
  } finally {
    execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    // port security tables live in the namespace: gone with it
  }
}

const fmt = (xs: Sample[], k: keyof Sample): string => `${pct(xs.map((s) => s[k]), 50).toFixed(1)} / ${pct(xs.map((s) => s[k]), 90).toFixed(1)}`;
const small = await measure(10);
const large = await measure(PORTS);
console.log(`one pass adding one tap port (MAC_FILTERED, port security ENABLED), ${PASSES} passes each; load average ${(await import('node:os')).loadavg().map((x) => x.toFixed(2)).join(' ')}`);
console.log('  (ms, p50 / p90)      pass incl. validation  validate      plan           execute        firewall');
for (const [name, xs] of [[`host with 10 ports`, small], [`host with ${PORTS} ports`, large]] as const) {
  console.log(`  ${name.padEnd(20)} ${fmt(xs, 'total').padEnd(22)} ${fmt(xs, 'validate').padEnd(13)} ${fmt(xs, 'plan').padEnd(15)} ${fmt(xs, 'execute').padEnd(14)} ${fmt(xs, 'firewall')}`);
}
console.log(`  ratio of medians (${PORTS} / 10 ports): ${(pct(large.map((s) => s.total), 50) / pct(small.map((s) => s.total), 50)).toFixed(2)}x`);
