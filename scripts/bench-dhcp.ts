// DHCP benchmark (issue 4): perfdhcp (kea-admin) driving full DORA exchanges over a veth against,
// in the same run and with the same static reservation, plumb's responder, dnsmasq (no lease
// file) and kea-dhcp4-server (memfile). For each server the highest offered rate with <= 1 %
// drops, and perfdhcp's delay figures at that rate. One client MAC (-R 1): plumb binds exactly
// one MAC per port, so every server answers the same reserved client.
//   npx tsx scripts/bench-dhcp.ts [--period 4]
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startResponder } from '../src/dhcp/responder.js';
import { validateHostState } from '../src/state/validate.js';

const { values } = parseArgs({ options: { period: { type: 'string', default: '4' } } });
const PERIOD = values.period ?? '4';
const S = `pt-dhs${process.pid}`;
const C = `pt-dhc${process.pid}`;
const MAC = 'aa:00:00:00:00:01';
const RATES = [1000, 2000, 4000, 8000, 16000, 32000];
const dir = mkdtempSync(join(tmpdir(), 'plumb-bench-dhcp-'));
const sh = (...a: string[]): string => execFileSync(a[0] as string, a.slice(1), { encoding: 'utf8' });

function topology(serverAddress: boolean): void {
  for (const n of [S, C]) {
    try {
      sh('ip', 'netns', 'del', n);
    } catch {
      /* not there */
    }
    sh('ip', 'netns', 'add', n);
    sh('ip', '-n', n, 'link', 'set', 'lo', 'up');
  }
  sh('ip', '-n', S, 'link', 'add', 's0', 'type', 'veth', 'peer', 'name', 'c0', 'netns', C);
  sh('ip', '-n', C, 'link', 'set', 'c0', 'address', MAC);
  sh('ip', '-n', S, 'link', 'set', 's0', 'up');
  sh('ip', '-n', C, 'link', 'set', 'c0', 'up');
  sh('ip', '-n', C, 'addr', 'add', '192.0.2.100/24', 'dev', 'c0');
  if (serverAddress) sh('ip', '-n', S, 'addr', 'add', '192.0.2.1/24', 'dev', 's0');
}

interface Run {
  rate: number;
  sent: number;
  received: number;
  drops: number;
  avg: number;
  max: number;
  std: number;
}

function perfdhcp(rate: number): Promise<Run> {
  return new Promise((resolve) => {
    const c = spawn('ip', ['netns', 'exec', C, 'perfdhcp', '-4', '-l', 'c0', '-r', String(rate), '-R', '1', '-b', `mac=${MAC}`, '-p', PERIOD], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    c.on('exit', () => {
      // DORA: the second (REQUEST/ACK) exchange section is the full-exchange count
      const num = (re: RegExp): number[] => [...out.matchAll(re)].map((m) => Number(m[1]));
      const sent = num(/sent packets: (\d+)/g);
      const recv = num(/received packets: (\d+)/g);
      const avg = num(/avg delay: ([\d.]+) ms/g);
      const max = num(/max delay: ([\d.]+) ms/g);
      const std = num(/std deviation: ([\d.]+) ms/g);
      const s = sent.at(-1) ?? 0;
      const r = recv.at(-1) ?? 0;
      resolve({ rate, sent: s, received: r, drops: s ? (100 * (s - r)) / s : 100, avg: avg.at(-1) ?? NaN, max: max.at(-1) ?? NaN, std: std.at(-1) ?? NaN });
    });
  });
}

async function sweep(name: string): Promise<Run | undefined> {
  let best: Run | undefined;
  for (const rate of RATES) {
    const r = await perfdhcp(rate);
    console.log(`  ${name.padEnd(8)} offered ${String(rate).padStart(6)}/s: ${r.received} ACKs of ${r.sent} REQUESTs (${r.drops.toFixed(2)} % drops), avg ${r.avg} ms, std ${r.std} ms, max ${r.max} ms`);
    if (r.drops > 1) break;
    best = r;
  }
  return best;
}

async function main(): Promise<void> {
  const results: Record<string, Run | undefined> = {};

  topology(false);
  const state = validateHostState({
    schemaVersion: 1,
    host: { name: 'bench' },
    networks: [{ id: 'n', type: 'MAC_FILTERED', macPrefix: 'aa:00:00', subnets: [{ cidr: '192.0.2.0/24', gateway: '192.0.2.1', dns: ['192.0.2.53'] }] }],
    ports: [{ id: 'p', network: 'n', mac: MAC, ifname: 's0', addresses: ['192.0.2.50'] }],
  }).state;
  const responder = await startResponder({ netns: S });
  responder.update(state);
  results.plumb = await sweep('plumb');
  await responder.close();

  topology(true);
  const dnsmasq = spawn('ip', ['netns', 'exec', S, 'dnsmasq', '--no-daemon', '--port=0', '--interface=s0', '--bind-interfaces', '--dhcp-range=192.0.2.10,192.0.2.200,12h', `--dhcp-host=${MAC},192.0.2.50`, '--leasefile-ro', '--dhcp-authoritative', '--quiet-dhcp', '--log-facility=/dev/null', '--pid-file='], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 500));
  results.dnsmasq = await sweep('dnsmasq');
  dnsmasq.kill();

  topology(true);
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
  const kea = spawn('ip', ['netns', 'exec', S, 'kea-dhcp4', '-c', keaConf], { stdio: 'ignore', env: { ...process.env, KEA_PIDFILE_DIR: dir, KEA_LOCKFILE_DIR: dir } });
  await new Promise((r) => setTimeout(r, 1500));
  results.kea = await sweep('kea');
  kea.kill();

  for (const n of [S, C]) sh('ip', 'netns', 'del', n);
  console.log('\nhighest offered rate with <= 1 % drops (full DORA exchanges/s):');
  for (const [name, r] of Object.entries(results)) console.log(`  ${name.padEnd(8)} ${r ? `${r.received / Number(PERIOD) | 0} exchanges/s at ${r.rate}/s offered, avg ${r.avg} ms, std ${r.std} ms, max ${r.max} ms` : 'none (drops above 1 % at the lowest rate)'}`);
  const p = results.plumb?.received ?? 0;
  console.log(`  ratio plumb/kea ${(p / (results.kea?.received || 1)).toFixed(2)}, plumb/dnsmasq ${(p / (results.dnsmasq?.received || 1)).toFixed(2)} (targets >= 1 and >= 1)`);
}

await main();
