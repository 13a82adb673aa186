// Persistent tap devices through /dev/net/tun (TUNSETIFF, TUNSETOWNER, TUNSETGROUP,
// TUNSETPERSIST), the way `ip tuntap add` does it, without spawning a process. The tap is
// created in the namespace of the thread that opened /dev/net/tun (the descriptor carries it),
// so callers open it with openTun inside withNetns / NetnsBinding.run; the ioctls may then run
// on any thread.
import { close, closeSync, openSync } from 'node:fs';
import koffi from 'koffi';
import { KernelError, ExistsError, BusyError } from './errors.js';
import { callAsync } from '../packet/raw.js';

const libc = koffi.load('libc.so.6');
const ioctlPtr = libc.func('int ioctl(int fd, unsigned long req, void *arg)');
// Same symbol, integer third argument (TUNSETOWNER/GROUP/PERSIST take the value itself).
const ioctlInt = libc.func('ioctl', 'int', ['int', 'unsigned long', 'unsigned long']);
const errnoLocation = libc.func('int *__errno_location()');

const TUNSETIFF = 0x400454ca;
const TUNSETPERSIST = 0x400454cb;
const TUNSETOWNER = 0x400454cc;
const TUNSETGROUP = 0x400454ce;
const IFF_TAP = 0x0002;
const IFF_NO_PI = 0x1000;
const IFF_VNET_HDR = 0x4000;
const IFF_MULTI_QUEUE = 0x0100;
const IFF_TUN_EXCL = 0x8000;

function errno(): number {
  return koffi.decode(errnoLocation(), 'int') as number;
}

function fail(op: string, name: string, e = errno()): never {
  if (e === 17) throw new ExistsError(op, e, 'EEXIST', name);
  if (e === 16) throw new BusyError(op, e, 'EBUSY', name);
  throw new KernelError(op, e, `errno ${e}`, name);
}

export interface TapOptions {
  name: string;
  owner: number | undefined;
  group: number | undefined;
  multiQueue: boolean;
  vnetHdr: boolean;
}

/** Open /dev/net/tun in the calling thread's namespace: the tap configureTap makes lives there. */
export function openTun(): number {
  return openSync('/dev/net/tun', 'r+');
}

/**
 * Make `fd` (from openTun) a persistent tap (fails with BusyError if a device of that name
 * exists: IFF_TUN_EXCL). TUNSETIFF registers the device under RTNL (~0.5 ms, longer when
 * another writer holds RTNL) and runs on the libuv thread pool; the other ioctls are cheap and
 * run here. On failure the descriptor is closed; on success the caller closes it with
 * closeTapFd, off the main thread, because detaching the queue waits for an RCU grace period.
 */
export async function configureTap(fd: number, o: TapOptions): Promise<void> {
  try {
    const ifr = Buffer.alloc(40);
    ifr.write(o.name, 0, 15, 'utf8');
    const flags = IFF_TAP | IFF_NO_PI | IFF_TUN_EXCL | (o.vnetHdr ? IFF_VNET_HDR : 0) | (o.multiQueue ? IFF_MULTI_QUEUE : 0);
    ifr.writeUInt16LE(flags, 16);
    const set = await callAsync(ioctlPtr, fd, TUNSETIFF, ifr);
    if (set.result < 0) fail('TUNSETIFF', o.name, set.errno);
    if (o.owner !== undefined && ioctlInt(fd, TUNSETOWNER, o.owner) < 0) fail('TUNSETOWNER', o.name);
    if (o.group !== undefined && ioctlInt(fd, TUNSETGROUP, o.group) < 0) fail('TUNSETGROUP', o.name);
    if (ioctlInt(fd, TUNSETPERSIST, 1) < 0) fail('TUNSETPERSIST', o.name);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/** Close the descriptor of a configured tap (configureTap), in the thread pool. */
export function closeTapFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => close(fd, (err) => (err ? reject(err) : resolve())));
}
