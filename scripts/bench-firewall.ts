// Port-security benchmark: (1) time to apply one port change with 10 / 100 / 1,000 ports present,
// against a full-table replace at the same size (the baseline a naive implementation pays);
// (2) iperf3 TCP throughput between two VM namespaces on a bridge with plumb's tables loaded
// (anti-spoofing on both ports, ENABLED profile on the receiver: conntrack via br_netfilter)
// vs. without any tables, measured alternately in the same run.
// Run as root: npx tsx scripts/bench-firewall.ts [--quick]
import { spawn, spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { Netns, ipIn, sh } from '../test/helpers/netns.js';
import { FirewallReconciler } from '../src/firewall/reconciler.js';
import { desiredFirewall } from '../src/firewall/desired.js';
import { nftRunner } from '../src/firewall/nft.js';
import { replaceAll } from '../src/firewall/plan.js';
import { hostState, manyPorts } from '../test/firewall/fixtures.js';
import type { HostState } from '../src/state/schema.js';

const quick = process.argv.includes('--quick');
const netns = new Netns();

function stats(xs: number[]): { median: number; p95: number } {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
  return { median: at(0.5), p95: at(0.95) };
}

function withProfile(state: HostState, index: number, profile: 'DISABLED' | 'ENABLED'): HostState {
  return { ...state, ports: state.ports.map((p, i) => (i === index ? { ...p, firewallProfile: profile } : p)) };
}

/** Time `rounds` reconciles alternating between states a and b; each must be exactly one write. */
async function alternate(fw: FirewallReconciler, a: HostState, b: HostState, rounds: number): Promise<{ change: number[]; idle: number[] }> {
  const change: number[] = [];
  const idle: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const s = i % 2 === 0 ? b : a;
    let t = performance.now();
    const r = await fw.reconcile(s);
    change.push(performance.now() - t);
    if (r.writes !== 1) throw new Error(`expected one write for one port change, got ${r.writes}`);
    t = performance.now();
    const again = await fw.reconcile(s);
    idle.push(performance.now() - t);
    if (again.writes !== 0) throw new Error(`expected no write for an unchanged state, got ${again.writes}`);
  }
  return { change, idle };
}

async function updateCost(n: number, rounds: number): Promise<void> {
  const ns = netns.add('pt-fb');
  const fw = new FirewallReconciler({ netns: ns });
  // Every port with a profile (the profile chains are loaded); the changes are one port's
  // profile ENABLED -> DISABLED -> ENABLED, and one port plugged in / removed.
  const plus = manyPorts(n + 1, 'ENABLED');
  const base: HostState = { ...plus, ports: plus.ports.slice(0, n) };
  await fw.reconcile(base);
  const profile = await alternate(fw, base, withProfile(base, Math.floor(n / 2), 'DISABLED'), rounds);
  const plug = await alternate(fw, base, plus, rounds);
  // Baseline: replacing the whole tables for the same change (what rebuilding per change costs).
  const nft = nftRunner(ns);
  const replace: number[] = [];
  for (let i = 0; i < Math.max(5, Math.floor(rounds / 2)); i++) {
    const script = replaceAll(desiredFirewall(i % 2 === 0 ? plus : base).tables).script;
    const t = performance.now();
    await nft.run(['-f', '-'], script);
    replace.push(performance.now() - t);
  }
  const rules = desiredFirewall(base).tables.reduce((acc, t) => acc + t.chains.reduce((a, c) => a + c.rules.length, 0), 0);
  const p = stats(profile.change);
  const g = stats(plug.change);
  // Even rounds move to b, odd rounds back to a: the profile change deletes one element then
  // adds it back; the plug adds a port's elements then deletes them.
  const evenOdd = (xs: number[], even: boolean) => stats(xs.filter((_, i) => (i % 2 === 0) === even)).median.toFixed(1);
  const split = `adds ${evenOdd(profile.change, false)}/${evenOdd(plug.change, true)} ms, deletes ${evenOdd(profile.change, true)}/${evenOdd(plug.change, false)} ms`;
  const z = stats([...profile.idle, ...plug.idle]);
  const b = stats(replace);
  console.log(
    `| ${n} | ${rules} | ${p.median.toFixed(1)} / ${p.p95.toFixed(1)} | ${g.median.toFixed(1)} / ${g.p95.toFixed(1)} | ${split} | ${z.median.toFixed(1)} | ${b.median.toFixed(1)} | ${(g.median / b.median).toFixed(2)} |`,
  );
  netns.cleanup();
}

function iperf(client: string, server: string, seconds: number): number {
  const r = spawnSync('ip', ['netns', 'exec', client, 'iperf3', '-J', '-p', '22', '--connect-timeout', '3000', '-c', server, '-t', String(seconds)], {
    encoding: 'utf8',
    timeout: (seconds + 15) * 1000,
    killSignal: 'SIGKILL',
  });
  if (r.status !== 0) throw new Error(`iperf3 failed (status ${r.status}, ${String(r.error ?? r.signal)}): ${r.stderr} ${r.stdout.slice(0, 400)}`);
  const j = JSON.parse(r.stdout) as { end: { sum_received: { bits_per_second: number } } };
  return j.end.sum_received.bits_per_second / 1e9;
}

async function throughput(rounds: number, seconds: number): Promise<void> {
  const host = netns.add('pt-fb');
  ipIn(host, 'link', 'add', 'br0', 'type', 'bridge');
  ipIn(host, 'link', 'set', 'br0', 'up');
  const vms = [
    { port: 'vpc', mac: '02:00:00:00:09:01', ip: '10.8.0.1' },
    { port: 'vps', mac: '02:00:00:00:09:02', ip: '10.8.0.2' },
  ].map((v) => {
    const ns = netns.add('pt-fbv');
    sh('ip', ['-n', host, 'link', 'add', v.port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    ipIn(ns, 'link', 'set', 'eth0', 'address', v.mac);
    ipIn(ns, 'addr', 'add', `${v.ip}/24`, 'dev', 'eth0');
    ipIn(ns, 'link', 'set', 'eth0', 'up');
    ipIn(host, 'link', 'set', v.port, 'master', 'br0', 'up');
    return { ...v, ns };
  });
  const [cli, srv] = vms as [(typeof vms)[number], (typeof vms)[number]];
  const state = hostState(
    [{ id: 'n1', type: 'CUSTOM', bridge: 'br0', subnets: [{ cidr: '10.8.0.0/24' }] }],
    // Client ENABLED (its inbound ACKs pass through conntrack's established path), server
    // PROTECTED with iperf3 on port 22 (inbound data accepted by the SSH rule).
    vms.map((v, i) => ({ id: `p${i}`, network: 'n1', ifname: v.port, mac: v.mac, addresses: [v.ip], firewallProfile: i === 1 ? 'PROTECTED' : 'ENABLED' })),
  );
  const server = spawn('ip', ['netns', 'exec', srv.ns, 'iperf3', '-s', '-p', '22'], { stdio: 'ignore' });
  // Wait for the bridge ports to forward and the server to listen.
  for (let i = 0; i < 50; i++) {
    // (not a TCP probe: a bare connect wedges iperf3's single control connection)
    const ok = spawnSync('ip', ['netns', 'exec', cli.ns, 'busybox', 'ping', '-c', '1', '-W', '1', srv.ip]).status === 0;
    if (ok) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const fw = new FirewallReconciler({ netns: host });
  const guardsOnly: HostState = { ...state, ports: state.ports.map((p) => ({ ...p, firewallProfile: 'DISABLED' })) };
  // Three configurations: no plumb tables (baseline), anti-spoofing only (all ports DISABLED),
  // anti-spoofing + stateful profiles.
  const configs: { name: string; apply: () => Promise<unknown>; gbps: number[] }[] = [
    { name: 'without tables', apply: () => fw.remove(), gbps: [] },
    { name: 'anti-spoofing only', apply: () => fw.reconcile(guardsOnly), gbps: [] },
    { name: 'anti-spoofing + profiles', apply: () => fw.reconcile(state), gbps: [] },
  ];
  try {
    iperf(cli.ns, srv.ip, 1); // warm-up
    // Rotate the order each round, so drift on a shared machine hits every configuration alike.
    for (let i = 0; i < rounds; i++) {
      for (let k = 0; k < configs.length; k++) {
        const c = configs[(i + k) % configs.length]!;
        await c.apply();
        c.gbps.push(iperf(cli.ns, srv.ip, seconds));
      }
    }
    const base = configs[0]!.gbps;
    console.log(`iperf3 TCP, veth + bridge, ${seconds}s x ${rounds} rounds (client ENABLED, server PROTECTED, iperf3 on port 22):`);
    for (const c of configs) {
      const m = stats(c.gbps).median;
      // Paired ratio: each run against the baseline run of the same round (back to back), so
      // load from other processes on this shared machine mostly cancels out.
      const paired = stats(c.gbps.map((g, i) => g / (base[i] ?? NaN))).median;
      console.log(
        `  ${c.name.padEnd(26)} median ${m.toFixed(2)} Gbit/s  ratio of medians ${(m / stats(base).median).toFixed(3)}  median paired ratio ${paired.toFixed(3)}  [${c.gbps.map((x) => x.toFixed(2)).join(', ')}]`,
      );
    }
  } finally {
    server.kill('SIGKILL');
    netns.cleanup();
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run as root (creates network namespaces)');
  console.log(`bench-firewall: ${new Date().toISOString()} nft ${sh('nft', ['--version']).trim()}, kernel ${sh('uname', ['-r']).trim()}`);
  if (!process.argv.includes('--iperf-only')) {
    console.log('| ports | rules | profile change ms (median / p95) | port plug/unplug ms (median / p95) | medians by kind (profile/plug) | no-change pass ms | full replace ms (baseline) | plug / replace |');
    console.log('|---|---|---|---|---|---|---|---|');
    for (const n of [10, 100, 1000]) await updateCost(n, quick ? 10 : 40);
  }
  await throughput(quick ? 3 : 12, quick ? 1 : 2);
}

main().catch((e: unknown) => {
  netns.cleanup();
  console.error(e);
  process.exit(1);
});
