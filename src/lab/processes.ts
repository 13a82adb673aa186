// Long-running lab processes (nats-server, controller, agents, VM DHCP supervisors), started
// detached so they outlive `plumb lab up`, and recorded by pid so `plumb lab down` stops
// exactly them.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LAB_DIR } from './layout.js';
import { parsePid, signalPid } from '../util/pid.js';

const PIDS = join(LAB_DIR, 'pids.json');
export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const PLUMB_BIN = join(REPO, 'bin', 'plumb.js');

export function readPids(): Record<string, number> {
  if (!existsSync(PIDS)) return {};
  const raw = JSON.parse(readFileSync(PIDS, 'utf8')) as Record<string, unknown>;
  const pids: Record<string, number> = {};
  for (const [name, v] of Object.entries(raw)) {
    const pid = parsePid(String(v));
    if (pid !== undefined) pids[name] = pid;
  }
  return pids;
}

export function recordPid(name: string, pid: number): void {
  mkdirSync(LAB_DIR, { recursive: true });
  writeFileSync(PIDS, JSON.stringify({ ...readPids(), [name]: pid }, null, 2));
}

export function alive(pid: number): boolean {
  return signalPid(pid, 0);
}

/** Start `cmd args` detached with output to <LAB_DIR>/logs/<name>.log; records its pid. */
export function startDetached(name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): number {
  mkdirSync(join(LAB_DIR, 'logs'), { recursive: true });
  const log = openSync(join(LAB_DIR, 'logs', `${name}.log`), 'a');
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', log, log], env: { ...process.env, ...env } });
  child.unref();
  if (!child.pid) throw new Error(`could not start ${name}`);
  recordPid(name, child.pid);
  return child.pid;
}

/** With PLUMB_PROF_DIR set, each lab daemon writes a V8 CPU profile there when it stops (profiling the lab). */
export function startPlumb(name: string, args: string[], env: NodeJS.ProcessEnv = {}): number {
  const prof = process.env.PLUMB_PROF_DIR;
  return startDetached(name, process.execPath, [...(prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : []), PLUMB_BIN, ...args], env);
}

/** SIGTERM every recorded process, then SIGKILL what is left after `graceMs`. */
export async function stopAll(graceMs = 3000): Promise<string[]> {
  const pids = readPids();
  const stopped: string[] = [];
  for (const [name, pid] of Object.entries(pids)) {
    if (!alive(pid)) continue;
    if (signalPid(pid, 'SIGTERM')) stopped.push(name);
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && Object.values(pids).some(alive)) await new Promise((r) => setTimeout(r, 100));
  for (const pid of Object.values(pids)) signalPid(pid, 'SIGKILL');
  return stopped;
}
