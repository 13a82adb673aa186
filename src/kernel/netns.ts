// Run synchronous code inside a named network namespace (/run/netns/NAME), the way `ip netns
// exec` does, but only for the current thread and only for the duration of `fn`. Sockets and
// tap devices created inside keep belonging to that namespace after we switch back, which is how
// a KernelHandle or a packet socket gets bound to a namespace without a separate process.
import { closeSync, existsSync, openSync } from 'node:fs';
import koffi from 'koffi';
import { NamespaceNotFoundError } from './errors.js';
import { PlumbError } from '../util/errors.js';

const CLONE_NEWNET = 0x40000000;

const libc = koffi.load('libc.so.6');
const setnsNative = libc.func('int setns(int fd, int nstype)');
const errnoLocation = libc.func('int *__errno_location()');

export class SetnsError extends PlumbError {
  constructor(readonly netns: string, readonly errno: number) {
    super(`setns into '${netns}' failed with errno ${errno}`);
  }
}

function lastErrno(): number {
  return koffi.decode(errnoLocation(), 'int') as number;
}

export function netnsPath(name: string): string {
  return `/run/netns/${name}`;
}

export function netnsExists(name: string): boolean {
  return existsSync(netnsPath(name));
}

/** Open /run/netns/NAME read-only; the caller closes the fd. */
export function openNetnsFd(name: string): number {
  try {
    return openSync(netnsPath(name), 'r');
  } catch {
    throw new NamespaceNotFoundError(name);
  }
}

/**
 * Run `fn` with the calling thread switched into namespace `name` (undefined: stay where we
 * are). `fn` must be synchronous: an await inside would let other code run in the wrong
 * namespace.
 */
export function withNetns<T>(name: string | undefined, fn: () => T): T {
  if (name === undefined) return fn();
  const target = openNetnsFd(name);
  // thread-self, not self: setns changes only this thread, and we must return to its namespace.
  const original = openSync('/proc/thread-self/ns/net', 'r');
  try {
    if (setnsNative(target, CLONE_NEWNET) !== 0) throw new SetnsError(name, lastErrno());
    try {
      return fn();
    } finally {
      if (setnsNative(original, CLONE_NEWNET) !== 0) {
        // Continuing in the wrong namespace would corrupt every later operation.
        process.stderr.write(`plumb: FATAL: could not return from netns '${name}' (errno ${lastErrno()})\n`);
        process.abort();
      }
    }
  } finally {
    closeSync(target);
    closeSync(original);
  }
}
