// Daemons the harness starts (libvirtd, Ganeti's, the QEMUs they launch) are found and killed by
// the pid files they write under a run's own directory, never by name: a machine may run its own.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

/** The pids in `dir`'s files whose names pass `which` (every file by default); missing or unreadable ones are skipped. */
export function pidsInDir(dir: string, which: (name: string) => boolean = () => true): number[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.filter(which).flatMap((n) => pidInFile(path.join(dir, n)) ?? []);
}

export function pidInFile(file: string): number | undefined {
  try {
    return Number(readFileSync(file, 'utf8').trim()) || undefined;
  } catch {
    return undefined;
  }
}

/** SIGKILL each pid that is still there. */
export function killPids(pids: Iterable<number | undefined>): void {
  for (const pid of new Set(pids)) {
    if (!pid) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}
