// One AF_PACKET socket per namespace for all ports, with a classic BPF filter so only the
// packets we serve reach user space (IPv4 UDP to port 67). Bounded descriptors however many
// ports: the ingress interface comes with each packet (sockaddr_ll). A quiet socket waits in a
// koffi async call on the libuv thread pool with a 1 s receive timeout, so close() is prompt;
// a busy one is read on the main thread (see start()).
import koffi from 'koffi';
import { AF_PACKET, SOCK_RAW, bindFn, closeFn, lastErrno, pollFn, recvfromFn, sendFrame, setsockoptFn, socketFn } from './raw.js';
import { PlumbError } from '../util/errors.js';
import type { NetnsBinding } from '../kernel/netns.js';
import { logger } from '../util/log.js';

const log = logger('packet');

export class PacketSocketError extends PlumbError {}

// ETH_P_ALL, not ETH_P_IP: protocol handlers run after the bridge took the frame, so on a
// bridge port only an 'all' tap sees it with the port (not the bridge) as ingress interface.
const ETH_P_ALL_BE = 0x0300; // htons(0x0003)
const SOL_SOCKET = 1;
const SO_ATTACH_FILTER = 26;
const SO_RCVTIMEO = 20;
const SO_RCVBUFFORCE = 33;
const PACKET_OUTGOING = 4;
const MSG_DONTWAIT = 0x40;
const POLLIN = 0x1;
const POLL_MS = 1;
const QUIET_ROUNDS = 3;
const DRAIN_MAX = 256;
const SOL_PACKET = 263;
const PACKET_ADD_MEMBERSHIP = 1;
const PACKET_MR_ALLMULTI = 2;
const PACKET_IGNORE_OUTGOING = 23; // Linux 4.20
/** BPF ancillary load of skb->pkt_type (SKF_AD_OFF + SKF_AD_PKTTYPE). */
const SKF_AD_PKTTYPE = 0xfffff004;

type BpfProgram = [number, number, number, number][];

/**
 * ld pkttype; jeq OUTGOING -> drop; ldh [12]; jne 0x800; ldb [23]; jne 17; ldh [20];
 * jset 0x1fff; ldxb 4*([14]&0xf); ldh [x+16]; jeq 67.
 * Our own replies to a relay agent go to port 67 too: without the pkttype test every frame we
 * send would come back to this socket (and wake its reader) as PACKET_OUTGOING.
 */
export const DHCP_SERVER_FILTER: BpfProgram = [
  [0x20, 0, 0, SKF_AD_PKTTYPE],
  [0x15, 10, 0, PACKET_OUTGOING],
  [0x28, 0, 0, 12],
  [0x15, 0, 8, 0x0800],
  [0x30, 0, 0, 23],
  [0x15, 0, 6, 17],
  [0x28, 0, 0, 20],
  [0x45, 4, 0, 0x1fff],
  [0xb1, 0, 0, 14],
  [0x48, 0, 0, 16],
  [0x15, 0, 1, 67],
  [0x06, 0, 0, 0x40000],
  [0x06, 0, 0, 0],
];

/**
 * IPv6 requests we serve: ICMPv6 Router Solicitations and UDP to the DHCPv6 server port.
 * ldh [12]; jne 0x86dd; ldb [20]; jeq 58 -> ldb [54]; jeq 133 | jeq 17 -> ldh [56]; jeq 547
 */
export const IPV6_REQUESTS_FILTER: BpfProgram = [
  [0x28, 0, 0, 12],
  [0x15, 0, 8, 0x86dd],
  [0x30, 0, 0, 20],
  [0x15, 0, 2, 58],
  [0x30, 0, 0, 54],
  [0x15, 3, 4, 133],
  [0x15, 0, 3, 17],
  [0x28, 0, 0, 56],
  [0x15, 0, 1, 547],
  [0x06, 0, 0, 0x40000],
  [0x06, 0, 0, 0],
];

export interface ReceivedFrame {
  ifIndex: number;
  /** A view of the receive buffer, valid only until the callback returns: copy to keep it. */
  frame: Buffer;
}

export class PacketSocket {
  private fd: number;
  private closed = false;
  /** Frames whose handler threw (dropped, logged). */
  handlerErrors = 0;
  private loop: Promise<void> | undefined;
  // the filter program must stay alive while attached
  private readonly filter: Buffer;

  constructor(ns: NetnsBinding, program: BpfProgram = DHCP_SERVER_FILTER) {
    // protocol 0: nothing is queued until bind() below, after the filter is attached (a socket
    // opened with ETH_P_ALL queues every frame on the host, unfiltered, until then: a VM's MLD
    // report arriving in that window was read later as a malformed DHCP request)
    this.fd = ns.run(() => socketFn(AF_PACKET, SOCK_RAW, 0) as number);
    if (this.fd < 0) throw new PacketSocketError(`socket(AF_PACKET) failed: errno ${lastErrno()} (CAP_NET_RAW needed)`);
    this.filter = Buffer.alloc(program.length * 8);
    program.forEach(([code, jt, jf, k], i) => {
      this.filter.writeUInt16LE(code, i * 8);
      this.filter.writeUInt8(jt, i * 8 + 2);
      this.filter.writeUInt8(jf, i * 8 + 3);
      this.filter.writeUInt32LE(k >>> 0, i * 8 + 4);
    });
    const prog = Buffer.alloc(16);
    prog.writeUInt16LE(program.length, 0);
    prog.writeBigUInt64LE(BigInt(koffi.address(this.filter)), 8);
    if ((setsockoptFn(this.fd, SOL_SOCKET, SO_ATTACH_FILTER, prog, 16) as number) !== 0) throw new PacketSocketError('SO_ATTACH_FILTER failed');
    // a burst of DHCP at host boot (every VM at once) must not overflow the default buffer
    const rcvbuf = Buffer.alloc(4);
    rcvbuf.writeInt32LE(8 * 1024 * 1024);
    setsockoptFn(this.fd, SOL_SOCKET, SO_RCVBUFFORCE, rcvbuf, 4);
    // and never queue what we send ourselves (the BPF test above covers kernels before 4.20)
    const one = Buffer.alloc(4);
    one.writeInt32LE(1);
    setsockoptFn(this.fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, one, 4);
    const tv = Buffer.alloc(16);
    tv.writeBigInt64LE(1n, 0);
    setsockoptFn(this.fd, SOL_SOCKET, SO_RCVTIMEO, tv, 16);
    const sll = Buffer.alloc(20); // sockaddr_ll: every interface, every protocol
    sll.writeUInt16LE(AF_PACKET, 0);
    sll.writeUInt16LE(ETH_P_ALL_BE, 2);
    if ((bindFn(this.fd, sll, 20) as number) !== 0) {
      const errno = lastErrno();
      closeFn(this.fd);
      throw new PacketSocketError(`bind(AF_PACKET, ETH_P_ALL) failed: errno ${errno}`);
    }
  }

  /**
   * Deliver every received frame to `onFrame` until close().
   *
   * Two modes. Idle: one blocking recvfrom on the libuv thread pool (koffi async), so a quiet
   * socket costs nothing. Busy, from the first frame on: frames are drained with non-blocking
   * calls on the main thread, and between drains the main thread waits for the next frame in
   * poll(2) for at most POLL_MS, yielding to the event loop (setImmediate) after every round.
   * A frame arriving then wakes this thread directly; in idle mode it costs two thread
   * switches (pool thread, then the loop's async handle) and a third to re-arm, which on this
   * class of machine was most of the per-packet CPU (docs/benchmarks.md). After QUIET_ROUNDS
   * rounds without a frame the socket goes back to idle. The event loop is never held for
   * longer than one POLL_MS wait or one drain.
   */
  start(onFrame: (f: ReceivedFrame) => void): void {
    const buf = Buffer.alloc(4096);
    const addr = Buffer.alloc(20);
    const addrLen = Buffer.alloc(4);
    const pfd = Buffer.alloc(8); // struct pollfd { int fd; short events; short revents; }
    pfd.writeInt32LE(this.fd, 0);
    pfd.writeInt16LE(POLLIN, 4);
    let quiet = 0;
    let stopped!: () => void;
    this.loop = new Promise<void>((resolve) => (stopped = resolve));
    const deliver = (n: number): void => {
      if (addr.readUInt8(10) === PACKET_OUTGOING) return;
      // Frames are delivered from koffi's native callback too, where an escaping exception
      // aborts the whole process: a handler that throws loses that frame only.
      try {
        onFrame({ ifIndex: addr.readInt32LE(4), frame: buf.subarray(0, n) });
      } catch (err) {
        this.handlerErrors += 1;
        log.error({ err: err instanceof Error ? err.stack : String(err), length: n }, 'frame handler failed; frame dropped');
      }
    };
    const drain = (): number => {
      let got = 0;
      for (; got < DRAIN_MAX; got++) {
        addrLen.writeUInt32LE(20, 0);
        const m = recvfromFn(this.fd, buf, buf.length, MSG_DONTWAIT, addr, addrLen) as number;
        if (m <= 0) break;
        deliver(m);
      }
      return got;
    };
    const busy = (): void => {
      if (this.closed) return stopped();
      let got = drain();
      if (got === 0 && (pollFn(pfd, 1, POLL_MS) as number) > 0) got = drain();
      quiet = got > 0 ? 0 : quiet + 1;
      if (quiet >= QUIET_ROUNDS) idle();
      else setImmediate(busy);
    };
    const idle = (): void => {
      addrLen.writeUInt32LE(20, 0);
      (recvfromFn as unknown as { async: (...a: unknown[]) => void }).async(this.fd, buf, buf.length, 0, addr, addrLen, (err: unknown, n: number) => {
        if (this.closed) return stopped();
        if (err || n <= 0) return idle(); // the 1 s timeout (EAGAIN) or an error: check closed, go on
        quiet = 0;
        try {
          deliver(n);
        } finally {
          setImmediate(busy);
        }
      });
    };
    idle();
  }

  /**
   * Receive all multicast on `ifIndex` (PACKET_MR_ALLMULTI): ports that are not bridge ports
   * (routed taps) drop multicast they have not joined, e.g. DHCPv6's ff02::1:2 (RFC 8415 7.1).
   */
  allMulticast(ifIndex: number): boolean {
    const mreq = Buffer.alloc(16);
    mreq.writeInt32LE(ifIndex, 0);
    mreq.writeUInt16LE(PACKET_MR_ALLMULTI, 4);
    return (setsockoptFn(this.fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq, 16) as number) === 0;
  }

  /** Send the first `length` bytes of `frame` (a whole Ethernet frame) out of `ifIndex`. */
  send(ifIndex: number, frame: Buffer, length = frame.length): void {
    if (this.closed) return;
    const errno = sendFrame(this.fd, ifIndex, frame, length);
    if (errno) throw new PacketSocketError(`sendto on ifindex ${ifIndex} failed: errno ${errno}`);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.loop; // the pending receive returns within the 1 s timeout
    closeFn(this.fd);
  }
}
