// The rtnetlink notification socket, on plumb's own libc calls (koffi) instead of the `netlink`
// package: that package's native poll handler aborts the whole process when the socket reports
// an error (it builds the exception outside a JavaScript scope), and a burst of notifications
// (1,000 taps deleted at once) overflowing the receive buffer reports exactly that: ENOBUFS.
// Here an overflow is an ordinary outcome: subscribers hear that notifications were lost and
// read the kernel state again.
//
// Waiting happens in poll(2) on the libuv thread pool; every recv runs on the main thread with
// MSG_DONTWAIT, so its errno is read where it happened.
import type { NetnsBinding } from '../netns.js';
import { bindFn, closeFn, getsocknameFn, lastErrno, pollFn, recvfromFn, sendtoFn, setsockoptFn, socketFn } from '../../packet/raw.js';
import { KernelError } from '../errors.js';

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const NETLINK_ROUTE = 0;
const SOL_SOCKET = 1;
const SO_RCVBUFFORCE = 33;
const SOL_NETLINK = 270;
const NETLINK_ADD_MEMBERSHIP = 1;
const MSG_DONTWAIT = 0x40;
const POLLIN = 0x1;
const EAGAIN = 11;
const EINTR = 4;
const ENOBUFS = 105;
const NLM_F_REQUEST = 0x1;
const RTM_GETLINK = 18;
const POLL_MS = 1000;
const FENCE_TIMEOUT_MS = 2000;
/** Datagrams read per turn of the event loop before yielding. */
const DRAIN_MAX = 512;

export const RTNLGRP = { LINK: 1, NEIGH: 3, IPV4_IFADDR: 5, IPV4_ROUTE: 7, IPV4_RULE: 8, IPV6_IFADDR: 9, IPV6_ROUTE: 11, IPV6_RULE: 19 } as const;

export interface NotifyMessage {
  type: number;
  data: Buffer;
}

export interface NotifyHandlers {
  message(m: NotifyMessage): void;
  /** The receive buffer overflowed: some notifications are gone. */
  lost(): void;
}

export class NotificationSocket {
  private readonly fd: number;
  private readonly port: number;
  private closed = false;
  private seq = Math.floor(Math.random() * 0x7fffffff);
  private readonly fences = new Map<number, () => void>();

  constructor(ns: NetnsBinding, groups: readonly number[], rcvbufBytes: number, private readonly on: NotifyHandlers) {
    this.fd = ns.run(() => socketFn(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE) as number);
    if (this.fd < 0) throw new KernelError('socket(AF_NETLINK)', lastErrno(), `errno ${lastErrno()}`);
    const size = Buffer.alloc(4);
    size.writeInt32LE(rcvbufBytes, 0);
    // as root, past net.core.rmem_max; if refused, the default buffer still works
    setsockoptFn(this.fd, SOL_SOCKET, SO_RCVBUFFORCE, size, 4);
    const addr = Buffer.alloc(12);
    addr.writeUInt16LE(AF_NETLINK, 0);
    if ((bindFn(this.fd, addr, 12) as number) < 0) {
      const e = lastErrno();
      closeFn(this.fd);
      throw new KernelError('bind(AF_NETLINK)', e, `errno ${e}`);
    }
    for (const g of groups) {
      const v = Buffer.alloc(4);
      v.writeInt32LE(g, 0);
      setsockoptFn(this.fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, v, 4);
    }
    const len = Buffer.alloc(4);
    len.writeUInt32LE(12, 0);
    getsocknameFn(this.fd, addr, len);
    this.port = addr.readUInt32LE(4);
    this.loop();
  }

  /** Resolves once every notification queued before this call has been handed out. */
  fence(): Promise<void> {
    if (this.closed) return Promise.resolve();
    const seq = (this.seq = (this.seq % 0x7fffffff) + 1);
    const msg = Buffer.alloc(32);
    msg.writeUInt32LE(32, 0);
    msg.writeUInt16LE(RTM_GETLINK, 4);
    msg.writeUInt16LE(NLM_F_REQUEST, 6);
    msg.writeUInt32LE(seq, 8);
    msg.writeUInt32LE(this.port, 12);
    msg.writeInt32LE(1, 20); // ifinfomsg.ifi_index = 1 (lo)
    const kernel = Buffer.alloc(12);
    kernel.writeUInt16LE(AF_NETLINK, 0);
    return new Promise((resolve) => {
      // A reply that never comes (dropped on overflow) must not hang a pass: after
      // FENCE_TIMEOUT_MS the fence gives up and reports the notifications as lost.
      const timer = setTimeout(() => {
        if (!this.fences.delete(seq)) return;
        this.safely(() => this.on.lost());
        resolve();
      }, FENCE_TIMEOUT_MS);
      timer.unref();
      this.fences.set(seq, () => {
        clearTimeout(timer);
        resolve();
      });
      if ((sendtoFn(this.fd, msg, 32, 0, kernel, 12) as number) < 0) {
        this.fences.delete(seq);
        clearTimeout(timer);
        this.safely(() => this.on.lost()); // no ordering guarantee: have everything re-read
        resolve();
      }
    });
  }

  private releaseFences(): void {
    const waiting = [...this.fences.values()];
    this.fences.clear();
    for (const release of waiting) release();
  }

  close(): void {
    this.closed = true; // the poll loop closes the descriptor when it next wakes (<= 1 s)
    this.releaseFences();
  }

  private loop(): void {
    const buf = Buffer.alloc(256 * 1024);
    const pfd = Buffer.alloc(8);
    pfd.writeInt32LE(this.fd, 0);
    pfd.writeInt16LE(POLLIN, 4);
    const wait = (): void => {
      if (this.closed) {
        closeFn(this.fd);
        return;
      }
      (pollFn as unknown as { async: (...a: unknown[]) => void }).async(pfd, 1, POLL_MS, () => setImmediate(drain));
    };
    const drain = (): void => {
      if (this.closed) return wait();
      for (let i = 0; i < DRAIN_MAX; i++) {
        const n = recvfromFn(this.fd, buf, buf.length, MSG_DONTWAIT, null, null) as number;
        if (n < 0) {
          const e = lastErrno();
          if (e === ENOBUFS) {
            this.safely(() => this.on.lost());
            // a fence's reply may have been dropped with the rest: release every waiter (what
            // it guarded is re-read anyway, since subscribers now know events were lost)
            this.releaseFences();
            continue;
          }
          if (e !== EAGAIN && e !== EINTR) this.safely(() => this.on.lost());
          return wait();
        }
        this.dispatch(buf, n);
      }
      setImmediate(drain); // more may be queued: yield to the event loop, then go on
    };
    wait();
  }

  private dispatch(buf: Buffer, n: number): void {
    let off = 0;
    while (off + 16 <= n) {
      const len = buf.readUInt32LE(off);
      if (len < 16 || off + len > n) break;
      const type = buf.readUInt16LE(off + 4);
      const seq = buf.readUInt32LE(off + 8);
      const pid = buf.readUInt32LE(off + 12);
      if (pid === this.port && this.fences.has(seq)) {
        // our fence's reply (or its error): everything before it has been dispatched
        const resolve = this.fences.get(seq);
        this.fences.delete(seq);
        resolve?.();
      } else {
        // a copy: the receive buffer is reused for the next datagram
        const data = Buffer.from(buf.subarray(off + 16, off + len));
        this.safely(() => this.on.message({ type, data }));
      }
      off += (len + 3) & ~3;
    }
  }

  /** Handlers run inside the read loop: one that throws must not stop it. */
  private safely(fn: () => void): void {
    try {
      fn();
    } catch {
      /* the handlers log their own failures (handle.ts) */
    }
  }
}
