// DHCP benchmark (issue 4): perfdhcp (kea-admin) driving full DORA exchanges over a veth against,
// in the same run and with the same static reservation, plumb's responder, dnsmasq (no lease
// file) and kea-dhcp4-server (memfile). For each server the highest offered rate with <= 1 %
// drops, perfdhcp's delay figures at that rate, and the CPU the server used per exchange. One
// client MAC (-R 1): plumb binds exactly one MAC per port, so every server answers the same
// reserved client.
//
// Fairness on a shared machine: each server has its own pair of namespaces joined by a veth
// (the same topology for all three), all three run for the whole benchmark, and the rates are
// swept in step: at each offered rate every server still in the race gets one perfdhcp run, in
// an order that rotates from rate to rate, so a burst of load elsewhere on the machine hits
// all three alike instead of whichever happened to be measured then. A server leaves the race
// at its first rate with more than 1 % drops. Each server runs as its own process (plumb's
// responder in a child started from this script with --serve-plumb), its CPU read from /proc,
// and each answers a short uncounted warm-up run first. The veth counters of each run show where lost
// exchanges went: frames the server's port took in and sent out (a server that falls behind
// sends fewer than it got), and frames the client's port received (perfdhcp falling behind
// counts as drops what did reach its port).
//   npx tsx scripts/bench-dhcp.ts [--period 3]
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { startResponder } from '../src/dhcp/responder.js';
import { validateHostState } from '../src/state/validate.js';
import { procCpu } from './proc-cpu.js';

const { values } = parseArgs({ options: { period: { type: 'string', default: '3' }, 'serve-plumb': { type: 'string' } } });
const PERIOD = values.period ?? '3';
const MAC = 'aa:00:00:00:00:01';
const RATES = [1000, 2000, 3000, 4000, 6000, 8000, 10000, 12000, 16000, 24000, 32000];
const SERVERS = ['plumb', 'dnsmasq', 'kea'] as const;
type Server = (typeof SERVERS)[number];
const dir = mkdtempSync(join(tmpdir(), 'plumb-bench-dhcp-'));
const sh = (...a: string[]): string => execFileSync(a[0] as string, a.slice(1), { encoding: 'utf8' });
const nsOf = (s: Server): { S: string; C: string } => ({ S: `pt-dh${s[0]}s${process.pid}`, C: `pt-dh${s[0]}c${process.pid}` });

/** Server namespace with s0, client namespace with c0 (the reserved MAC), one veth between. */
function topology(s: Server, serverAddress: boolean): void {
  const { S, C } = nsOf(s);
  for (const n of [S, C]) {
    sh('ip', 'netns', 'add', n);
    sh('ip', '-n', n, 'link', 'set', 'lo', 'up');
  }
  sh('ip', '-n', S, 'link', 'add', 's0', 'type', 'veth', 'peer', 'name', 'c0', 'netns', C);
  sh('ip', '-n', C, 'link', 'set', 'c0', 'address', MAC);
  sh('ip', '-n', S, 'link', 'set', 's0', 'up');
  sh('ip', '-n', C, 'link', 'set', 'c0', 'up');
  sh('ip', '-n', C, 'addr', 'add', '192.0.2.100/24', 'dev', 'c0');
  // dnsmasq and kea need an address to serve the subnet from; plumb serves IP-less ports
  if (serverAddress) sh('ip', '-n', S, 'addr', 'add', '192.0.2.1/24', 'dev', 's0');
}

function cleanup(): void {
  for (const s of SERVERS)
    for (const n of Object.values(nsOf(s)))
      try {
        execFileSync('ip', ['netns', 'del', n], { stdio: 'ignore' });
      } catch {
        /* not there */
      }
}

interface Run {
  rate: number;
  sent: number;
  received: number;
  drops: number;
  avg: number;
  max: number;
  std: number;
  /** server CPU (user + system) per completed exchange, microseconds */
  cpuPerExchange: number;
  /** perfdhcp's own CPU over the run, as a share of one core */
  perfdhcpCpu: number;
  /** where packets went, from the veth counters: frames the server's port received and sent, frames the client's port received */
  wire: { serverRx: number; serverTx: number; clientRx: number; clientRxDropped: number; clientUdpIn: number; clientUdpRcvbufErrors: number };
}

/** The client namespace's UDP counters (perfdhcp, acting as a relay, receives on a UDP socket on port 67). */
function udpCounters(ns: string): { inDatagrams: number; rcvbufErrors: number } {
  const lines = sh('ip', 'netns', 'exec', ns, 'cat', '/proc/net/snmp').split('\n').filter((l) => l.startsWith('Udp:'));
  const names = lines[0]?.split(/\s+/) ?? [];
  const vals = lines[1]?.split(/\s+/).map(Number) ?? [];
  return { inDatagrams: vals[names.indexOf('InDatagrams')] ?? NaN, rcvbufErrors: vals[names.indexOf('RcvbufErrors')] ?? NaN };
}

interface Counters {
  rx: number;
  tx: number;
  rxDropped: number;
}
function counters(ns: string, dev: string): Counters {
  const [l] = JSON.parse(sh('ip', '-n', ns, '-j', '-s', 'link', 'show', 'dev', dev)) as { stats64: { rx: { packets: number; dropped: number }; tx: { packets: number } } }[];
  return { rx: l?.stats64.rx.packets ?? NaN, tx: l?.stats64.tx.packets ?? NaN, rxDropped: l?.stats64.rx.dropped ?? NaN };
}

function perfdhcp(s: Server, rate: number, serverCpu: () => number, period = PERIOD): Promise<Run> {
  const { S, C } = nsOf(s);
  const s0 = counters(S, 's0');
  const c0 = counters(C, 'c0');
  const u0 = udpCounters(C);
  const cpu0 = serverCpu();
  return new Promise((resolve) => {
    // `times` prints the shell's and its children's CPU: the second line is perfdhcp's
    const script = `perfdhcp -4 -l c0 -r ${rate} -R 1 -b mac=${MAC} -p ${period}; times`;
    const c = spawn('ip', ['netns', 'exec', C, 'sh', '-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    c.on('exit', () => {
      const cpu = serverCpu() - cpu0;
      const s1 = counters(S, 's0');
      const c1 = counters(C, 'c0');
      const u1 = udpCounters(C);
      const wire = { serverRx: s1.rx - s0.rx, serverTx: s1.tx - s0.tx, clientRx: c1.rx - c0.rx, clientRxDropped: c1.rxDropped - c0.rxDropped, clientUdpIn: u1.inDatagrams - u0.inDatagrams, clientUdpRcvbufErrors: u1.rcvbufErrors - u0.rcvbufErrors };
      // DORA: the second (REQUEST/ACK) exchange section is the full-exchange count
      const num = (re: RegExp): number[] => [...out.matchAll(re)].map((m) => Number(m[1]));
      const sent = num(/sent packets: (\d+)/g);
      const recv = num(/received packets: (\d+)/g);
      const avg = num(/avg delay: ([\d.]+) ms/g);
      const max = num(/max delay: ([\d.]+) ms/g);
      const std = num(/std deviation: ([\d.]+) ms/g);
      const t = [...out.matchAll(/(\d+)m([\d.]+)s (\d+)m([\d.]+)s/g)].at(-1);
      const perfCpu = t ? Number(t[1]) * 60 + Number(t[2]) + Number(t[3]) * 60 + Number(t[4]) : NaN;
      const sentN = sent.at(-1) ?? 0;
      const r = recv.at(-1) ?? 0;
      resolve({ rate, sent: sentN, received: r, drops: sentN ? (100 * (sentN - r)) / sentN : 100, avg: avg.at(-1) ?? NaN, max: max.at(-1) ?? NaN, std: std.at(-1) ?? NaN, cpuPerExchange: r ? (cpu * 1e6) / r : NaN, perfdhcpCpu: perfCpu / Number(period), wire });
    });
  });
}

async function main(): Promise<void> {
  cleanup();
  const children: ChildProcess[] = [];
  try {
    // plumb: its responder in a process of its own (like the other two: its CPU is read from
    // /proc and the harness's own work does not share its event loop), on an IP-less port
    topology('plumb', false);
    const plumb = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--serve-plumb', nsOf('plumb').S], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, PLUMB_LOG_LEVEL: 'warn' } });
    children.push(plumb);
    await new Promise<void>((resolve, reject) => {
      plumb.stdout?.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
      plumb.on('exit', (code) => reject(new Error(`plumb's responder exited (${code})`)));
    });

    topology('dnsmasq', true);
    const dnsmasq = spawn('ip', ['netns', 'exec', nsOf('dnsmasq').S, 'dnsmasq', '--no-daemon', '--port=0', '--interface=s0', '--bind-interfaces', '--dhcp-range=192.0.2.10,192.0.2.200,12h', `--dhcp-host=${MAC},192.0.2.50`, '--leasefile-ro', '--dhcp-authoritative', '--quiet-dhcp', '--log-facility=/dev/null', '--pid-file='], { stdio: 'ignore' });
    children.push(dnsmasq);

    topology('kea', true);
    const keaConf = join(dir, 'kea.json');
    writeFileSync(
      keaConf,
      JSON.stringify({
        Dhcp4: {
          'interfaces-config': { interfaces: ['s0'] },
          'lease-database': { type: 'memfile', persist: true, name: join(dir, 'leases.csv') },
          'valid-lifetime': 43200,
          subnet4: [{ id: 1, subnet: '192.0.2.0/24', pools: [{ pool: '192.0.2.10 - 192.0.2.200' }], 'option-data': [{ name: 'routers', data: '192.0.2.1' }], reservations: [{ 'hw-address': MAC, 'ip-address': '192.0.2.50' }] }],
          loggers: [{ name: 'kea-dhcp4', severity: 'FATAL', output_options: [{ output: join(dir, 'kea.log') }] }],
        },
      }),
    );
    const kea = spawn('ip', ['netns', 'exec', nsOf('kea').S, 'kea-dhcp4', '-c', keaConf], { stdio: 'ignore', env: { ...process.env, KEA_PIDFILE_DIR: dir, KEA_LOCKFILE_DIR: dir } });
    children.push(kea);
    await new Promise((r) => setTimeout(r, 1500));

    // `ip netns exec` execs the server: the spawned pid is the server's
    const cpuOf: Record<Server, () => number> = {
      plumb: () => (procCpu(plumb.pid)?.seconds ?? NaN),
      dnsmasq: () => (procCpu(dnsmasq.pid)?.seconds ?? NaN),
      kea: () => (procCpu(kea.pid)?.seconds ?? NaN),
    };
    // every server answers a short run first, not counted (plumb's JIT, caches, ARP/neighbour entries)
    for (const s of SERVERS) await perfdhcp(s, 500, cpuOf[s], '1');
    const best: Partial<Record<Server, Run>> = {};
    const failedAt: Partial<Record<Server, Run>> = {};
    const racing = new Set<Server>(SERVERS);
    for (const [i, rate] of RATES.entries()) {
      const order = SERVERS.map((_, k) => SERVERS[(i + k) % SERVERS.length] as Server).filter((s) => racing.has(s));
      if (!order.length) break;
      for (const s of order) {
        const r = await perfdhcp(s, rate, cpuOf[s]);
        const w = r.wire;
        console.log(`  ${s.padEnd(8)} offered ${String(rate).padStart(6)}/s: ${r.received} ACKs of ${r.sent} REQUESTs (${r.drops.toFixed(2)} % drops), avg ${r.avg} ms, std ${r.std} ms, max ${r.max} ms; server CPU ${r.cpuPerExchange.toFixed(0)} us/exchange, perfdhcp ${(100 * r.perfdhcpCpu).toFixed(0)} % of a core; frames: server port in ${w.serverRx} out ${w.serverTx}, client port in ${w.clientRx} (dropped ${w.clientRxDropped}), perfdhcp's socket took ${w.clientUdpIn} (buffer overflows ${w.clientUdpRcvbufErrors})`);
        if (r.drops > 1) {
          racing.delete(s);
          failedAt[s] = r;
        } else best[s] = r;
      }
    }

    console.log('\nhighest offered rate with <= 1 % drops (full DORA exchanges/s):');
    for (const s of SERVERS) {
      const r = best[s];
      const f = failedAt[s];
      const next = f ? `; ${f.rate}/s offered: ${f.drops.toFixed(1)} % drops` : '; no rate above had > 1 % drops';
      console.log(`  ${s.padEnd(8)} ${r ? `${(r.received / Number(PERIOD)) | 0} exchanges/s at ${r.rate}/s offered, avg ${r.avg} ms, std ${r.std} ms, max ${r.max} ms, ${r.cpuPerExchange.toFixed(0)} us CPU/exchange` : 'none (drops above 1 % at the lowest rate)'}${next}`);
    }
    const p = best.plumb?.received ?? 0;
    const ratio = (other: Run | undefined): string => (other ? (p / other.received).toFixed(2) : 'n/a (it passed no rate)');
    console.log(`  ratio plumb/kea ${ratio(best.kea)}, plumb/dnsmasq ${ratio(best.dnsmasq)} (targets >= 1 and >= 1)`);
  } finally {
    for (const c of children) c.kill();
    cleanup();
  }
}

/** The plumb server process: its responder in namespace `ns` with the bench reservation, until SIGTERM. */
async function servePlumb(ns: string): Promise<void> {
  const state = validateHostState({
    schemaVersion: 1,
    host: { name: 'bench' },
    networks: [{ id: 'n', type: 'MAC_FILTERED', macPrefix: 'aa:00:00', subnets: [{ cidr: '192.0.2.0/24', gateway: '192.0.2.1', dns: ['192.0.2.53'] }] }],
    ports: [{ id: 'p', network: 'n', mac: MAC, ifname: 's0', addresses: ['192.0.2.50'] }],
  }).state;
  const responder = await startResponder({ netns: ns });
  responder.update(state);
  process.on('SIGTERM', () => void responder.close().then(() => process.exit(0)));
  console.log('ready');
}

if (values['serve-plumb']) await servePlumb(values['serve-plumb']);
else await main();
