// The libc calls behind plumb's AF_PACKET sockets and its own rtnetlink sockets (notifications,
// slow requests) (koffi), a way to make any of them on the libuv thread pool, and the one way a
// frame is sent out of an interface, shared by the DHCP/RA responder and gratuitous ARP /
// unsolicited NA.
import koffi from 'koffi';

const libc = koffi.load('libc.so.6');
export const socketFn = libc.func('int socket(int domain, int type, int protocol)');
export const setsockoptFn = libc.func('int setsockopt(int fd, int level, int name, void *val, uint32_t len)');
export const recvfromFn = libc.func('long recvfrom(int fd, void *buf, unsigned long len, int flags, void *addr, void *addrlen)');
export const sendtoFn = libc.func('long sendto(int fd, void *buf, unsigned long len, int flags, void *addr, uint32_t addrlen)');
export const pollFn = libc.func('int poll(void *fds, unsigned long nfds, int timeout)');
export const bindFn = libc.func('int bind(int fd, void *addr, uint32_t len)');
export const closeFn = libc.func('int close(int fd)');
export const getsocknameFn = libc.func('int getsockname(int fd, void *addr, void *addrlen)');
const errnoLocation = libc.func('int *__errno_location()');

export const AF_PACKET = 17;
export const SOCK_RAW = 3;

export function lastErrno(): number {
  return koffi.decode(errnoLocation(), 'int') as number;
}

/** A libc function bound with koffi (any of the above, or another module's). */
export type LibcFunction = ReturnType<typeof libc.func>;

export interface AsyncOutcome {
  /** The function's integer return value. */
  result: number;
  /** errno as the calling worker thread left it when `result` < 0, else 0. */
  errno: number;
}

/**
 * Call `fn(...args)` on the libuv thread pool (koffi's async call) and resolve with its result
 * and errno: for calls that block inside the kernel (a netlink request that unregisters a device,
 * TUNSETIFF). Buffers passed in must stay untouched until the promise settles. The pool is small
 * (UV_THREADPOOL_SIZE, raised in bin/plumb.js); callers keep at most one such call in flight each.
 */
export function callAsync(fn: LibcFunction, ...args: unknown[]): Promise<AsyncOutcome> {
  return new Promise((resolve, reject) => {
    (fn as unknown as { async: (...a: unknown[]) => void }).async(...args, (err: unknown, result: number | bigint) => {
      if (err) return reject(err instanceof Error ? err : new Error(String(err)));
      const n = Number(result);
      // errno is per thread; koffi hands the worker's value to this callback (koffi >= 3.2)
      resolve({ result: n, errno: n < 0 ? koffi.errno() : 0 });
    });
  });
}

// one sockaddr_ll for every send: sendto is synchronous, so it is never shared by two calls
const sll = Buffer.alloc(20);

/**
 * sendto(2) of an Ethernet frame (its first `length` bytes) out of `ifIndex` (sockaddr_ll);
 * the errno on failure, else 0.
 */
export function sendFrame(fd: number, ifIndex: number, frame: Buffer, length = frame.length): number {
  sll.fill(0);
  sll.writeUInt16LE(AF_PACKET, 0);
  sll.writeUInt16BE(frame.readUInt16BE(12), 2);
  sll.writeInt32LE(ifIndex, 4);
  sll.writeUInt8(6, 11);
  frame.copy(sll, 12, 0, 6);
  return (sendtoFn(fd, frame, length, 0, sll, 20) as number) < 0 ? lastErrno() : 0;
}
