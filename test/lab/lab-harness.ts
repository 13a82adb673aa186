// What the lab test files share. The lab has one directory (/run/plumb-lab), one API address and
// fixed namespace names: the files that bring a lab up (lab.test.ts, ha-lab.test.ts) run one at
// a time, whatever worker vitest gives them, each holding a lock from its first test to its last
// and taking its lab down at the end.
import { afterAll, beforeAll } from 'vitest';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { acquireLock } from '../../src/qemu/lock.js';
import { run } from '../helpers/run.js';

export const repo = new URL('../..', import.meta.url).pathname;

/** The built CLI, as the README's commands run it. */
export const plumb = (...args: string[]) => run(process.execPath, [join(repo, 'bin', 'plumb.js'), ...args], { timeoutMs: 240_000 });

export const labNamespaces = (): string[] => (existsSync('/run/netns') ? readdirSync('/run/netns').filter((n) => n.startsWith('plab-')) : []);

/** How long a lab test file may wait for the other before its first test (the plain lab takes about 3 minutes). */
const LAB_QUEUE_MS = 15 * 60_000;

/** Call at the top of a lab test file: waits for the lab to be free, and takes this file's lab down at the end. */
export function holdTheLab(): void {
  let release: (() => void) | undefined;
  beforeAll(async () => {
    release = await acquireLock(join(repo, '.cache', 'lab.lock'));
  }, LAB_QUEUE_MS);
  afterAll(async () => {
    await plumb('lab', 'down');
    release?.();
  });
}
