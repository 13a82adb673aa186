// A cross-process lock from an atomic mkdir, for the cache build and for limiting how many
// guests run at once (vitest runs test files in parallel forks; TCG guests are CPU-bound and
// this machine has two cores). A lock whose owner pid is gone is taken over.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

function ownerAlive(dir: string): boolean {
  try {
    const pid = Number(readFileSync(path.join(dir, 'pid'), 'utf8'));
    if (!pid) return true; // being written right now
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function tryTake(dir: string): boolean {
  try {
    mkdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    if (ownerAlive(dir)) return false;
    rmSync(dir, { recursive: true, force: true });
    return tryTake(dir);
  }
  writeFileSync(path.join(dir, 'pid'), String(process.pid));
  return true;
}

/** Waits for the lock; the function returned releases it. */
export async function acquireLock(dir: string): Promise<() => void> {
  mkdirSync(path.dirname(dir), { recursive: true });
  while (!tryTake(dir)) await sleep(200);
  return () => rmSync(dir, { recursive: true, force: true });
}

export async function withLock<T>(dir: string, fn: () => Promise<T> | T): Promise<T> {
  const release = await acquireLock(dir);
  try {
    return await fn();
  } finally {
    release();
  }
}
