// `plumb lab down`: stop every recorded process, kill anything left inside lab namespaces,
// delete the namespaces (and with them every device the lab or its agents made), remove files.
import { execFileSync } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { LAB_DIR } from './layout.js';
import { stopAll } from './processes.js';
import { destroyNamespaces } from './topology.js';
import { signalPid } from '../util/pid.js';

export function labNamespaces(): string[] {
  try {
    return readdirSync('/run/netns').filter((n) => n.startsWith('plab-'));
  } catch {
    return [];
  }
}

export async function labDown(log: (line: string) => void): Promise<void> {
  const stopped = await stopAll();
  if (stopped.length) log(`stopped ${stopped.join(', ')}`);
  const namespaces = labNamespaces();
  for (const ns of namespaces) {
    let pids: string[] = [];
    try {
      pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).split(/\s+/).filter(Boolean);
    } catch {
      /* already gone */
    }
    for (const pid of pids) signalPid(pid, 'SIGKILL');
  }
  const removed = destroyNamespaces(namespaces);
  if (removed.length) log(`removed namespaces ${removed.join(', ')}`);
  rmSync(LAB_DIR, { recursive: true, force: true });
  const left = labNamespaces();
  if (left.length) throw new Error(`namespaces left behind: ${left.join(', ')}`);
}
