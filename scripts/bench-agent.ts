// Agent benchmark (issue 2): cold converge of 1,000 ports on 100 networks (VXLAN,
// MAC_FILTERED and IP_LESS_ROUTED mixed) against a baseline that creates the same objects with
// one `ip -batch` process (plus `bridge -batch` for FDB entries and direct sysctl writes), then a
// warm restart over the converged host. Everything happens in throwaway namespaces.
//
//   npm run build && npx tsx scripts/bench-agent.ts [--ports 1000] [--networks 100] [--runs 3]
//
// Prints the figures and the ratios; targets: cold <= 1.5x baseline, warm restart 0 writes in
// < 300 ms, RSS < 100 MB. Not a test: machines are noisy, so read the ratios.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openKernelHandle } from '../src/kernel/handle.js';
import { withNetns } from '../src/kernel/netns.js';
import { Reconciler } from '../src/agent/reconciler.js';
import { validateHostState } from '../src/state/validate.js';
import { ownerAlias } from '../src/agent/ownership.js';
import { RTPROT_PLUMB, RULE_PRIORITY } from '../src/agent/ownership.js';
import type { Op } from '../src/agent/ops.js';

const { values } = parseArgs({ options: { ports: { type: 'string', default: '1000' }, networks: { type: 'string', default: '100' }, runs: { type: 'string', default: '3' } } });
const PORTS = Number(values.ports);
const NETWORKS = Number(values.networks);
const RUNS = Number(values.runs);

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8' });
}

function makeHost(name: string): void {
  sh('ip', ['netns', 'add', name]);
  sh('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  sh('ip', ['-n', name, 'link', 'add', 'und0', 'mtu', '9000', 'type', 'veth', 'peer', 'name', 'und1']);
  sh('ip', ['-n', name, 'link', 'add', 'pub0', 'type', 'veth', 'peer', 'name', 'pub1']);
  sh('ip', ['-n', name, 'link', 'add', 'mfup0', 'type', 'veth', 'peer', 'name', 'mfup1']);
  for (const d of ['und0', 'und1', 'pub0', 'pub1', 'mfup0', 'mfup1']) sh('ip', ['-n', name, 'link', 'set', d, 'up']);
  sh('ip', ['-n', name, 'addr', 'add', '10.200.0.1/16', 'dev', 'und0']);
}

function state() {
  const networks: unknown[] = [];
  const ports: unknown[] = [];
  const perNet = Math.ceil(PORTS / NETWORKS);
  for (let n = 0; n < NETWORKS; n++) {
    const id = `n${n}`;
    const kind = n % 3;
    if (kind === 0) networks.push({ id, type: 'VXLAN', segmentId: 10000 + n, remotes: ['10.200.1.2', '10.200.1.3'] });
    else if (kind === 1) networks.push({ id, type: 'MAC_FILTERED', macPrefix: `aa:01:${n.toString(16).padStart(2, '0')}` });
    else networks.push({ id, type: 'IP_LESS_ROUTED', uplink: 'pub0', routingTable: 1000 + n, subnets: [{ cidr: `100.${64 + (n >> 6)}.${(n & 63) * 4}.0/22`, gateway: `100.${64 + (n >> 6)}.${(n & 63) * 4}.1` }] });
    for (let p = 0; p < perNet && ports.length < PORTS; p++) {
      const i = ports.length;
      const mac = kind === 1 ? `aa:01:${n.toString(16).padStart(2, '0')}:00:${(p >> 8).toString(16).padStart(2, '0')}:${(p & 255).toString(16).padStart(2, '0')}` : `aa:00:00:${(i >> 16).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
      const port: Record<string, unknown> = { id: `p${i}`, network: id, mac };
      if (kind === 2) port.addresses = [`100.${64 + (n >> 6)}.${(n & 63) * 4}.${10 + p}`];
      ports.push(port);
    }
  }
  return { schemaVersion: 1, generation: 1, host: { name: 'bench', underlay: { device: 'und0', address: '10.200.0.1' }, tapOwner: 0, macFiltered: { bridge: 'plumbmf0', uplink: 'mfup0' } }, networks, ports };
}

/** The same objects as iproute2 batch lines. */
function toBatch(ops: Op[]): { ip: string[]; bridge: string[]; sysctls: [string, string][] } {
  const ip: string[] = [];
  const late: string[] = [];
  const bridge: string[] = [];
  const sysctls: [string, string][] = [];
  for (const op of ops) {
    switch (op.kind) {
      case 'linkAdd': {
        const l = op.link;
        const alias = ownerAlias(l.owner);
        if (l.kind === 'bridge') ip.push(`link add ${l.name} mtu ${l.mtu} type bridge`);
        else if (l.kind === 'vxlan') ip.push(`link add ${l.name} mtu ${l.mtu} type vxlan id ${l.vni} local ${l.local} dev ${l.underlay} dstport ${l.port} nolearning`);
        else if (l.kind === 'tap') ip.push(`tuntap add ${l.name} mode tap user ${l.uid ?? 0} vnet_hdr`, `link set ${l.name} mtu ${l.mtu}`);
        else throw new Error(`unexpected ${l.kind}`);
        ip.push(`link set ${l.name} alias ${alias}`);
        break;
      }
      case 'linkSet':
        late.push(`link set ${op.name}${op.master ? ` master ${op.master}` : ''}${op.up ? ' up' : ''}`);
        break;
      case 'routeReplace': {
        const r = op.route;
        late.push(`route replace ${r.dst}${r.gateway ? ` via ${r.gateway}` : ''} dev ${r.dev} table ${r.table}${r.scope === 'link' ? ' scope link' : ''} proto ${RTPROT_PLUMB}`);
        break;
      }
      case 'ruleAdd':
        late.push(`${op.rule.family === 6 ? '-6 ' : ''}rule add priority ${RULE_PRIORITY} iif ${op.rule.iifName} table ${op.rule.table} protocol ${RTPROT_PLUMB}`);
        break;
      case 'neighReplace': {
        const n = op.neigh;
        late.push(n.proxy ? `neigh add proxy ${n.address} dev ${n.dev}` : `neigh replace ${n.address} lladdr ${n.lladdr} dev ${n.dev} nud permanent`);
        break;
      }
      case 'fdbAppend':
        bridge.push(`fdb append ${op.mac} dev ${op.dev} dst ${op.dst} self permanent`);
        break;
      case 'sysctlSet':
        sysctls.push([op.path, op.value]);
        break;
      case 'announce':
        break; // not a kernel object
      default:
        throw new Error(`unexpected op ${op.kind} in a cold converge`);
    }
  }
  // ip -batch takes no per-line options: the bench state is IPv4-only, so anything else is a bug here
  if (late.some((l) => l.startsWith('-6'))) throw new Error('bench-agent: IPv6 rules need a separate ip -6 -batch');
  // ip -batch runs lines in order: links, then (after all links exist) the rest, sorted like plumb's phases
  return { ip: [...ip, ...late.sort((a, b) => rank(a) - rank(b))], bridge, sysctls };
}

function rank(line: string): number {
  if (line.startsWith('link set')) return 0;
  if (line.includes('neigh')) return 1;
  if (line.includes('route') && !line.includes(' via ')) return 2;
  if (line.includes('route')) return 3;
  return 4;
}

async function main(): Promise<void> {
  const doc = state();
  const v = validateHostState(doc);
  if (v.rejections.length) throw new Error(`bench state rejected: ${JSON.stringify(v.rejections[0])}`);
  const results: { baseline: number; cold: number; coldWrites: number; warm: number; warmWrites: number; rss: number }[] = [];
  for (let run = 0; run < RUNS; run++) {
    const a = `pt-bench-a${process.pid}`;
    const b = `pt-bench-b${process.pid}`;
    try {
      makeHost(a);
      makeHost(b);
      // plan against the empty host to get the exact object list for the baseline
      const planHandle = await openKernelHandle({ netns: b });
      const { ops } = await new Reconciler(planHandle).plan(v);
      planHandle.close();
      const batch = toBatch(ops);
      const ipFile = join(tmpdir(), `plumb-bench-${process.pid}.ip`);
      const brFile = join(tmpdir(), `plumb-bench-${process.pid}.bridge`);
      writeFileSync(ipFile, `${batch.ip.join('\n')}\n`);
      writeFileSync(brFile, `${batch.bridge.join('\n')}\n`);

      let t = performance.now();
      sh('ip', ['-n', b, '-batch', ipFile]);
      sh('bridge', ['-n', b, '-batch', brFile]);
      withNetns(b, () => {
        for (const [p, val] of batch.sysctls) writeFileSync(`/proc/sys/${p}`, val);
      });
      const baseline = performance.now() - t;

      t = performance.now();
      const h = await openKernelHandle({ netns: a });
      const cold = await new Reconciler(h).reconcile(v);
      const coldMs = performance.now() - t;
      h.close();
      if (!cold.converged) throw new Error(`cold converge failed: ${JSON.stringify([...cold.failures, ...cold.problems].slice(0, 3))}`);

      t = performance.now();
      const h2 = await openKernelHandle({ netns: a });
      const warm = await new Reconciler(h2).reconcile(v);
      const warmMs = performance.now() - t;
      h2.close();
      // The agent as operators run it: a separate process (compiled dist/), restarted over the
      // converged host, with Node's defaults and with the flag the systemd unit sets
      // (NODE_OPTIONS=--max-semi-space-size=2: a smaller young generation). Its peak RSS is the
      // agent's memory figure.
      const stateFile = join(tmpdir(), `plumb-bench-${process.pid}.json`);
      writeFileSync(stateFile, JSON.stringify(doc));
      const agentRun = (ns: string, nodeFlags: string[]): { writes: number; durationMs: number; maxRssMB: number; wall: number } => {
        const t0 = performance.now();
        const out = JSON.parse(sh('node', [...nodeFlags, join(import.meta.dirname, '..', 'bin', 'plumb.js'), 'agent', 'apply', '--state', stateFile, '--netns', ns, '--no-firewall', '--json'])) as { writes: number; durationMs: number; maxRssMB: number };
        return { ...out, wall: performance.now() - t0 };
      };
      const dflt = agentRun(a, []);
      const tuned = agentRun(a, ['--max-semi-space-size=2']);
      const c = `pt-bench-c${process.pid}`;
      makeHost(c);
      const coldProc = agentRun(c, ['--max-semi-space-size=2']);
      sh('ip', ['netns', 'del', c]);
      console.log(`        agent process restart: ${dflt.wall.toFixed(0)} ms wall incl. node start, pass ${dflt.durationMs.toFixed(0)} ms, ${dflt.writes} writes, peak RSS ${dflt.maxRssMB} MB (Node defaults) / ${tuned.maxRssMB} MB (unit flags); cold converge process peak RSS ${coldProc.maxRssMB} MB (unit flags)`);
      const out = { writes: dflt.writes + tuned.writes, maxRssMB: Math.max(tuned.maxRssMB, coldProc.maxRssMB) };
      results.push({ baseline, cold: coldMs, coldWrites: cold.writes, warm: warmMs, warmWrites: warm.writes + out.writes, rss: out.maxRssMB });
      console.log(
        `run ${run + 1}: ip -batch baseline ${baseline.toFixed(0)} ms (${batch.ip.length + batch.bridge.length} lines + ${batch.sysctls.length} sysctls) | plumb cold ${coldMs.toFixed(0)} ms (${cold.writes} writes) ratio ${(coldMs / baseline).toFixed(2)} | warm restart ${warmMs.toFixed(0)} ms, ${warm.writes} writes`,
      );
    } finally {
      for (const ns of [a, b]) {
        try {
          sh('ip', ['netns', 'del', ns]);
        } catch {
          /* not created */
        }
      }
    }
  }
  const med = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] ?? NaN;
  const baseline = med(results.map((r) => r.baseline));
  const cold = med(results.map((r) => r.cold));
  const warm = med(results.map((r) => r.warm));
  console.log(`\n${PORTS} ports on ${NETWORKS} networks, median of ${RUNS} runs:`);
  console.log(`  baseline (ip -batch + bridge -batch + sysctl writes): ${baseline.toFixed(0)} ms`);
  console.log(`  plumb cold converge: ${cold.toFixed(0)} ms  ratio ${(cold / baseline).toFixed(2)}x  (target <= 1.5x)`);
  console.log(`  plumb warm restart:  ${warm.toFixed(0)} ms, writes ${Math.max(...results.map((r) => r.warmWrites))}  (target 0 writes, < 300 ms)`);
  console.log(`  agent process peak RSS (cold or warm, with the unit's NODE_OPTIONS): ${Math.max(...results.map((r) => r.rss)).toFixed(0)} MB  (target < 100 MB)`);
}

await main();
