// The libc calls behind plumb's AF_PACKET sockets and its rtnetlink notification socket (koffi), and the one way a frame is sent out
// of an interface, shared by the DHCP/RA responder and gratuitous ARP / unsolicited NA.
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
