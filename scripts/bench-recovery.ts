// Recovery after outages, in the lab (issue 12). nats-server is taken away --short times for
// --short-s seconds and --long times for --long-s seconds while tap ports are created and
// deleted on both hosts; for each outage it measures the time from the server accepting
// connections again to both hosts' kernels holding exactly the ports the API says (devices
// polled every 10 ms). Baseline in the same run: a bare client with plumb's connection options,
// connected to the same server, measured from the same instant to its 'reconnect' event (what
// the NATS client alone needs). Then the controller and one agent are restarted --restarts
// times each, with changes made while the agent is away.
// Correctness, checked after every outage: every port the API holds is ACTIVE and its tap is on
// its host, no deleted port's tap is, and no tap that existed before the outage was made again
// (same ifindex: no intent applied twice). Two VMs ping each other across hosts 10 times a
// second for the whole run; the loss is printed.
// Brings the lab up (and down again) unless it is already up.
//   npx tsx scripts/bench-recovery.ts [--short 20] [--short-s 5] [--long 20] [--long-s 30] [--restarts 5]
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { connectBus } from '../src/bus/connection.js';
import { CONTROLLER_USER, seedPath } from '../src/bus/credentials.js';
import { api, bindPort, waitForController } from '../src/lab/controller.js';
import { hostLinks, natsPort, startDaemon, stopDaemon, tapName, waitConverged, waitListening, type ConvergeWant } from '../src/lab/drills.js';
import { HOSTS, LAB_DIR, type LabHost } from '../src/lab/layout.js';
import { labIsUp } from '../src/lab/up.js';
import { PLUMB_BIN } from '../src/lab/processes.js';

const { values } = parseArgs({
  options: {
    short: { type: 'string', default: '20' },
    'short-s': { type: 'string', default: '5' },
    long: { type: 'string', default: '20' },
    'long-s': { type: 'string', default: '30' },
    restarts: { type: 'string', default: '5' },
  },
});
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)] ?? NaN;
const stats = (xs: number[]): string => `p50 ${pct(xs, 50)} ms, p99 ${pct(xs, 99)} ms, max ${Math.max(...xs)} ms (n=${xs.length})`;
const plumb = (...args: string[]): string => execFileSync(process.execPath, [PLUMB_BIN, ...args], { encoding: 'utf8' });
const CONVERGE_TIMEOUT_MS = 30_000;

const broughtUp = !labIsUp();
if (broughtUp) plumb('lab', 'up');
await waitForController();

// the network, two VMs that ping each other across hosts through everything below
plumb('network', 'create', '--name', 'recovery');
const net = (JSON.parse(plumb('network', 'list', '--json')) as { id: string; name: string }[]).find((n) => n.name === 'recovery')?.id as string;
plumb('lab', 'server', 'create', 'rv1', '--host', 'h1', '--nic', `net-id=${net}`);
plumb('lab', 'server', 'create', 'rv2', '--host', 'h2', '--nic', `net-id=${net}`);
const target = /inet (\d+\.\d+\.\d+\.\d+)/.exec(execFileSync('ip', ['-n', 'plab-vm-rv2', '-4', '-o', 'addr', 'show', 'dev', 'eth0'], { encoding: 'utf8' }))?.[1] as string;
const pinger = spawn('ip', ['netns', 'exec', 'plab-vm-rv1', 'ping', '-i', '0.1', '-W', '1', target], { stdio: ['ignore', 'pipe', 'ignore'] });
let pingOut = '';
pinger.stdout.on('data', (d: Buffer) => (pingOut += d.toString()));

// the baseline: a bare client with plumb's reconnect options
const baseline = await connectBus({ url: `nats://127.0.0.1:${natsPort()}`, seedFile: seedPath(join(LAB_DIR, 'nats', 'creds'), CONTROLLER_USER), name: 'bench-baseline' });
let onReconnect: ((at: number) => void) | undefined;
void (async () => {
  for await (const s of baseline.status()) if (s.type === 'reconnect') onReconnect?.(Date.now());
})();

// port churn: the bench's own tap ports, id -> host
const live = new Map<string, LabHost>();
const deleted = new Set<string>();
let churnOps = 0;
async function churnOnce(i: number): Promise<void> {
  const host = HOSTS[i % HOSTS.length] as LabHost;
  if (live.size >= 16 || (live.size > 4 && i % 3 === 0)) {
    const [id] = [...live.keys()].slice(i % live.size, (i % live.size) + 1);
    if (id) {
      await api('DELETE', `/v2.0/ports/${id}`);
      live.delete(id);
      deleted.add(id);
    }
  } else {
    const p = { port: await bindPort<{ id: string }>({ network_id: net, device_id: `rc${i}`, 'binding:host_id': host, 'binding:profile': { kind: 'tap' } }) };
    live.set(p.port.id, host);
  }
  churnOps += 1;
}
/** Churn every `everyMs` until the returned stop function is awaited. */
function churn(everyMs: number): () => Promise<void> {
  let on = true;
  const loop = (async () => {
    for (let i = churnOps; on; i++) {
      await churnOnce(i);
      await sleep(everyMs);
    }
  })();
  return async () => {
    on = false;
    await loop;
  };
}

const want = (): ConvergeWant[] =>
  HOSTS.map((h) => ({ host: h, present: [...live].filter(([, host]) => host === h).map(([id]) => tapName(id)), absent: [...deleted].map(tapName) }));
const problems: string[] = [];
async function checkExact(label: string, before: Map<LabHost, Map<string, number>>): Promise<void> {
  // every port the API holds for this bench is ACTIVE (the agents reported it), and only those exist
  const deadline = Date.now() + CONVERGE_TIMEOUT_MS;
  for (;;) {
    const ports = (await api<{ ports: { id: string; status: string; device_id: string }[] }>('GET', `/v2.0/ports?network_id=${net}`)).ports.filter((p) => p.device_id.startsWith('rc'));
    const ids = new Set(ports.map((p) => p.id));
    const lost = [...live.keys()].filter((id) => !ids.has(id));
    const extra = [...ids].filter((id) => !live.has(id));
    if (lost.length || extra.length) {
      problems.push(`${label}: API ports differ from the bench's (lost ${lost.join(',') || '-'}, extra ${extra.join(',') || '-'})`);
      break;
    }
    if (ports.every((p) => p.status === 'ACTIVE')) break;
    if (Date.now() > deadline) {
      problems.push(`${label}: ports not ACTIVE: ${ports.filter((p) => p.status !== 'ACTIVE').map((p) => p.id).join(',')}`);
      break;
    }
    await sleep(20);
  }
  for (const h of HOSTS) {
    const now = await hostLinks(h);
    for (const [name, index] of before.get(h) ?? []) {
      const got = now.get(name);
      if (got === undefined && [...deleted].some((id) => tapName(id) === name)) continue; // deleted meanwhile
      if (got !== index) problems.push(`${label}: ${h} ${name} was made again or lost (ifindex ${index} -> ${got ?? 'gone'})`);
    }
  }
}
const snapshot = async (): Promise<Map<LabHost, Map<string, number>>> => new Map(await Promise.all(HOSTS.map(async (h) => [h, await hostLinks(h)] as const)));

async function natsOutage(seconds: number, label: string): Promise<{ converge: number; reconnect: number }> {
  const before = await snapshot();
  await stopDaemon('nats-server');
  const stopChurn = churn(400);
  await sleep(seconds * 1000);
  await stopChurn();
  const reconnected = new Promise<number>((r) => (onReconnect = r));
  await startDaemon('nats-server');
  const back = await waitListening(natsPort());
  const [converged, reconnectAt] = await Promise.all([waitConverged(want(), CONVERGE_TIMEOUT_MS), reconnected]);
  if (converged === undefined) throw new Error(`${label}: hosts did not converge within ${CONVERGE_TIMEOUT_MS} ms`);
  await checkExact(label, before);
  return { converge: converged - back, reconnect: reconnectAt - back };
}

async function controllerRestart(label: string): Promise<number> {
  const before = await snapshot();
  await stopDaemon('controller');
  await startDaemon('controller');
  await waitForController();
  const back = Date.now();
  await churnOnce(churnOps);
  const converged = await waitConverged(want(), CONVERGE_TIMEOUT_MS);
  if (converged === undefined) throw new Error(`${label}: hosts did not converge within ${CONVERGE_TIMEOUT_MS} ms`);
  await checkExact(label, before);
  return converged - back;
}

async function agentRestart(label: string): Promise<number> {
  const before = await snapshot();
  await stopDaemon('agent-h1');
  for (let k = 0; k < 4; k++) await churnOnce(churnOps);
  await startDaemon('agent-h1');
  const started = Date.now();
  const converged = await waitConverged(want(), CONVERGE_TIMEOUT_MS);
  if (converged === undefined) throw new Error(`${label}: hosts did not converge within ${CONVERGE_TIMEOUT_MS} ms`);
  await checkExact(label, before);
  return converged - started;
}

const results: { name: string; converge: number[]; reconnect: number[] }[] = [];
try {
  for (const [n, s] of [
    [Number(values.short), Number(values['short-s'])],
    [Number(values.long), Number(values['long-s'])],
  ] as const) {
    if (n === 0) continue;
    const r = { name: `nats-server away ${s} s`, converge: [] as number[], reconnect: [] as number[] };
    for (let i = 1; i <= n; i++) {
      const m = await natsOutage(s, `${r.name} #${i}`);
      r.converge.push(m.converge);
      r.reconnect.push(m.reconnect);
      console.log(`${r.name} #${i}: hosts converged ${m.converge} ms after the server answered; bare client reconnected after ${m.reconnect} ms`);
    }
    results.push(r);
  }
  const ctl: number[] = [];
  const agent: number[] = [];
  const cliStart: number[] = [];
  for (let i = 1; i <= Number(values.restarts); i++) {
    ctl.push(await controllerRestart(`controller restart #${i}`));
    agent.push(await agentRestart(`agent restart #${i}`));
    // the baseline of a restart: starting plumb's CLI at all (Node and the modules it loads)
    const t0 = Date.now();
    plumb('--version');
    cliStart.push(Date.now() - t0);
    console.log(`restart #${i}: a port created after the controller restarted on its host in ${ctl.at(-1)} ms; h1 converged ${agent.at(-1)} ms after its agent started`);
  }
  pinger.kill('SIGINT');
  await new Promise((r) => pinger.on('exit', r));
  console.log('\n== recovery (time from the daemon being back to every host converged)');
  for (const r of results) {
    console.log(`${r.name}: converged ${stats(r.converge)}`);
    console.log(`${' '.repeat(r.name.length)}  baseline, bare client reconnect: ${stats(r.reconnect)}`);
    console.log(`${' '.repeat(r.name.length)}  converged minus reconnect, p99: ${pct(r.converge, 99) - pct(r.reconnect, 99)} ms`);
  }
  if (ctl.length) console.log(`controller restart (API answering -> new port on its host): ${stats(ctl)}`);
  if (agent.length) {
    console.log(`agent restart (process started -> host converged, 4 changes made while away): ${stats(agent)}`);
    console.log(`  baseline, \`plumb --version\` from start to exit: ${stats(cliStart)}`);
  }
  const ping = /(\d+) packets transmitted, (\d+) received/.exec(pingOut);
  console.log(`pings rv1 -> rv2 across hosts during the whole run: ${ping ? `${ping[1]} sent, ${Number(ping[1]) - Number(ping[2])} lost` : 'no summary'}`);
  console.log(`port churn: ${churnOps} API operations; correctness problems: ${problems.length === 0 ? 'none' : `\n  ${problems.join('\n  ')}`}`);
  if (problems.length > 0 || !ping || ping[1] !== ping[2]) process.exitCode = 1;
} finally {
  pinger.kill('SIGINT');
  await baseline.close().catch(() => undefined);
  if (broughtUp) plumb('lab', 'down');
  else {
    for (const id of live.keys()) await api('DELETE', `/v2.0/ports/${id}`).catch(() => undefined);
    for (const vm of ['rv1', 'rv2']) execFileSync('ip', ['netns', 'del', `plab-vm-${vm}`], { stdio: 'ignore' });
  }
}
