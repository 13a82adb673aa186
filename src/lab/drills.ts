// Failure drills on a running lab, shared by the lab test and scripts/bench-recovery.ts: stop
// one daemon (nats-server, the controller, one agent), start it again exactly as `lab up` did,
// and tell when it answers again and when a host's kernel holds the devices it should.
import { execFile, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { NATS_SERVER_BIN } from '../bus/nats-server.js';
import { LAB_DIR, NS, type LabHost } from './layout.js';
import { alive, readPids, recordPid, startDetached, startPlumb } from './processes.js';
import { HAPROXY_BIN } from './haproxy.js';
import { PostgresServer } from './postgres.js';
import { signalPid } from '../util/pid.js';

const run = promisify(execFile);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The plain lab's daemons, and the HA lab's parts (lab up --ha). */
export type LabDaemon = 'nats-server' | 'controller' | `agent-${LabHost}` | 'postgres' | `nats-${1 | 2 | 3}` | `controller-${1 | 2}` | 'haproxy';

export const LAB_DAEMONS: readonly LabDaemon[] = ['nats-server', 'controller', 'agent-h1', 'agent-h2', 'postgres', 'nats-1', 'nats-2', 'nats-3', 'controller-1', 'controller-2', 'haproxy'];

/** SIGKILL one lab daemon (a crash, for drills) and wait until it is gone. */
export async function killDaemon(name: LabDaemon): Promise<void> {
  if (name === 'postgres') {
    await (await PostgresServer.attach(join(LAB_DIR, 'postgres'))).kill();
    return;
  }
  const pid = readPids()[name];
  if (pid === undefined || !alive(pid)) return;
  signalPid(pid, 'SIGKILL');
  while (alive(pid)) await sleep(10);
}

/** SIGTERM one lab daemon and wait until it is gone (SIGKILL after `graceMs`). */
export async function stopDaemon(name: LabDaemon, graceMs = 5000): Promise<void> {
  const pid = readPids()[name];
  if (pid === undefined || !alive(pid)) return;
  signalPid(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (alive(pid) && Date.now() < deadline) await sleep(10);
  signalPid(pid, 'SIGKILL');
  while (alive(pid)) await sleep(10);
}

/** Start a stopped lab daemon again with the configuration `lab up` wrote (same store, same credentials). */
export async function startDaemon(name: LabDaemon): Promise<void> {
  const nats = /^nats-([123])$/.exec(name);
  if (name === 'postgres') {
    const pg = await PostgresServer.attach(join(LAB_DIR, 'postgres'));
    await pg.start();
    const pid = pg.pid();
    if (pid !== undefined) recordPid('postgres', pid);
  } else if (nats) {
    const dir = join(LAB_DIR, 'nats', `n${nats[1]}`);
    const log = openSync(join(dir, 'nats-server.log'), 'a');
    const p = spawn(NATS_SERVER_BIN, ['-c', join(dir, 'nats-server.conf')], { detached: true, stdio: ['ignore', log, log] });
    closeSync(log);
    p.unref();
    if (p.pid === undefined) throw new Error(`could not start ${name}`);
    recordPid(name, p.pid);
  } else if (name === 'haproxy') {
    startDetached('haproxy', HAPROXY_BIN, ['-f', join(LAB_DIR, 'haproxy.cfg'), '-db']);
  } else if (name === 'controller-1' || name === 'controller-2') {
    startPlumb(name, ['controller', 'run', '--config', join(LAB_DIR, `${name}.yaml`)]);
  } else if (name === 'nats-server') {
    const log = openSync(join(LAB_DIR, 'nats', 'nats-server.log'), 'a');
    const p = spawn(NATS_SERVER_BIN, ['-c', join(LAB_DIR, 'nats', 'nats-server.conf')], { detached: true, stdio: ['ignore', log, log] });
    closeSync(log);
    p.unref();
    if (p.pid === undefined) throw new Error('could not start nats-server');
    recordPid('nats-server', p.pid);
  } else if (name === 'controller') {
    startPlumb('controller', ['controller', 'run', '--config', join(LAB_DIR, 'controller.yaml')]);
  } else {
    startPlumb(name, ['agent', 'run', '--config', join(LAB_DIR, `${name}.yaml`)]);
  }
}

/** The lab nats-server's client port, from its config file. */
export function natsPort(): number {
  const m = /listen: "[^:]+:(\d+)"/.exec(readFileSync(join(LAB_DIR, 'nats', 'nats-server.conf'), 'utf8'));
  if (!m?.[1]) throw new Error('no listen port in the lab nats-server config');
  return Number(m[1]);
}

/** Resolves (with Date.now()) once 127.0.0.1:port accepts a TCP connection; polls every 5 ms. */
export async function waitListening(port: number, timeoutMs = 30_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const c = connect(port, '127.0.0.1');
      c.once('connect', () => (c.destroy(), resolve(true)));
      c.once('error', () => resolve(false));
    });
    if (up) return Date.now();
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await sleep(5);
  }
}

/** Link name -> ifindex of every link in a lab host's namespace. */
export async function hostLinks(host: LabHost): Promise<Map<string, number>> {
  const { stdout } = await run('ip', ['-n', NS[host], '-o', 'link', 'show']);
  const out = new Map<string, number>();
  for (const line of stdout.split('\n')) {
    const m = /^(\d+): ([^:@]+)[@:]/.exec(line);
    if (m?.[1] && m[2]) out.set(m[2], Number(m[1]));
  }
  return out;
}

/** The tap device the agent makes for a port of kind tap (tests name ports by id). */
export const tapName = (portId: string): string => `tap${portId}`;

export interface ConvergeWant {
  host: LabHost;
  present: readonly string[];
  absent: readonly string[];
}

/**
 * Poll until every host holds the `present` devices and none of the `absent` ones. Resolves
 * with Date.now() at the first poll that saw it, or undefined when `timeoutMs` passed.
 */
export async function waitConverged(want: readonly ConvergeWant[], timeoutMs: number, pollMs = 10): Promise<number | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const links = await Promise.all(want.map((w) => hostLinks(w.host)));
    const at = Date.now();
    const ok = want.every((w, i) => w.present.every((n) => links[i]?.has(n)) && !w.absent.some((n) => links[i]?.has(n)));
    if (ok) return at;
    if (at > deadline) return undefined;
    await sleep(pollMs);
  }
}
