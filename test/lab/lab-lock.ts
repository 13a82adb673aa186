// The lab has one directory (/run/plumb-lab), one API address and fixed namespace names: the test
// files that bring a lab up (lab.test.ts, ha-lab.test.ts) run one at a time, whatever worker
// vitest gives them, by holding this lock from their first test to their last.
import { join } from 'node:path';
import { acquireLock } from '../../src/qemu/lock.js';

const repo = new URL('../..', import.meta.url).pathname;

/** Waits for the lab to be free; call the function returned once this file's lab is down. */
export const takeLab = (): Promise<() => void> => acquireLock(join(repo, '.cache', 'lab.lock'));

/** How long a lab test file may wait for the other before its first test (the plain lab takes about 3 minutes). */
export const LAB_QUEUE_MS = 15 * 60_000;
