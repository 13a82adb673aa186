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
import { closeFn, lastErrno, pollFn, recvfromFn, sendtoFn } from '../../packet/raw.js';
import { EAGAIN, EINTR, KERNEL_ADDRESS, KERNEL_ADDRESS_LEN, MSG_DONTWAIT, openRouteSocket, pollIn } from './route-socket.js';

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
    ({ fd: this.fd, port: this.port } = openRouteSocket(ns, { rcvbufBytes, groups }));
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
      if ((sendtoFn(this.fd, msg, 32, 0, KERNEL_ADDRESS, KERNEL_ADDRESS_LEN) as number) < 0) {
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
    const pfd = pollIn(this.fd);
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
