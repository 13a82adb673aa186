// A raw NETLINK_ROUTE socket on plumb's own libc calls (src/packet/raw.ts), shared by the
// notification socket (notify-socket.ts) and the thread-pool request lane (offload.ts).
import type { NetnsBinding } from '../netns.js';
import { bindFn, closeFn, getsocknameFn, lastErrno, setsockoptFn, socketFn } from '../../packet/raw.js';
import { KernelError } from '../errors.js';

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const NETLINK_ROUTE = 0;
const SOL_SOCKET = 1;
const SO_RCVBUFFORCE = 33;
const SOL_NETLINK = 270;
const NETLINK_ADD_MEMBERSHIP = 1;
const SOCKADDR_NL_LEN = 12;
export const MSG_DONTWAIT = 0x40;
export const EAGAIN = 11;
export const EINTR = 4;
const POLLIN = 0x1;

/** sockaddr_nl of the kernel (port 0): the destination of every request. Read-only. */
export const KERNEL_ADDRESS: Buffer = (() => {
  const a = Buffer.alloc(SOCKADDR_NL_LEN);
  a.writeUInt16LE(AF_NETLINK, 0);
  return a;
})();
export const KERNEL_ADDRESS_LEN = SOCKADDR_NL_LEN;

/**
 * Open a NETLINK_ROUTE socket in `ns` and bind it (the kernel picks the port id). With
 * `rcvbufBytes` the receive buffer is forced to that size (as root, past net.core.rmem_max; if
 * refused the default still works); `groups` are multicast groups to join.
 */
export function openRouteSocket(ns: NetnsBinding, opts: { rcvbufBytes?: number; groups?: readonly number[] } = {}): { fd: number; port: number } {
  const fd = ns.run(() => socketFn(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE) as number);
  if (fd < 0) throw new KernelError('socket(AF_NETLINK)', lastErrno(), `errno ${lastErrno()}`);
  if (opts.rcvbufBytes !== undefined) setsockoptFn(fd, SOL_SOCKET, SO_RCVBUFFORCE, int32(opts.rcvbufBytes), 4);
  const addr = Buffer.alloc(SOCKADDR_NL_LEN);
  addr.writeUInt16LE(AF_NETLINK, 0);
  if ((bindFn(fd, addr, SOCKADDR_NL_LEN) as number) < 0) {
    const e = lastErrno();
    closeFn(fd);
    throw new KernelError('bind(AF_NETLINK)', e, `errno ${e}`);
  }
  for (const g of opts.groups ?? []) setsockoptFn(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, int32(g), 4);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(SOCKADDR_NL_LEN, 0);
  getsocknameFn(fd, addr, len);
  return { fd, port: addr.readUInt32LE(4) };
}

/** A `struct pollfd` waiting for `fd` to be readable. */
export function pollIn(fd: number): Buffer {
  const pfd = Buffer.alloc(8);
  pfd.writeInt32LE(fd, 0);
  pfd.writeInt16LE(POLLIN, 4);
  return pfd;
}

function int32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v, 0);
  return b;
}
