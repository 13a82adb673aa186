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
  const binding = new NetnsBinding(name);
  try {
    return binding.run(fn);
  } finally {
    binding.close();
  }
}

/**
 * A namespace held open for repeated switches (a kernel handle creating taps and writing
 * sysctls): opening /run/netns files for every switch showed up in profiles. Holding the fd
 * keeps the namespace alive exactly as the handle's netlink sockets already do.
 */
export class NetnsBinding {
  private target: number | undefined;
  private original: number | undefined;

  constructor(readonly name: string | undefined) {
    if (name === undefined) return;
    this.target = openNetnsFd(name);
    // thread-self, not self: setns changes only this thread, and we must return to its namespace.
    this.original = openSync('/proc/thread-self/ns/net', 'r');
  }

  run<T>(fn: () => T): T {
    if (this.target === undefined || this.original === undefined) return fn();
    if (setnsNative(this.target, CLONE_NEWNET) !== 0) throw new SetnsError(this.name ?? '', lastErrno());
    try {
      return fn();
    } finally {
      if (setnsNative(this.original, CLONE_NEWNET) !== 0) {
        // Continuing in the wrong namespace would corrupt every later operation.
        process.stderr.write(`plumb: FATAL: could not return from netns '${this.name ?? ''}' (errno ${lastErrno()})\n`);
        process.abort();
      }
    }
  }

  close(): void {
    if (this.target !== undefined) closeSync(this.target);
    if (this.original !== undefined) closeSync(this.original);
    this.target = this.original = undefined;
  }
}
