// Slow rtnetlink requests, sent from the libuv thread pool instead of the main thread.
//
// The kernel handles a netlink request inside the sender's sendmsg(2), and some requests are
// slow there: deleting a device waits for RCU grace periods under the RTNL lock (~16 ms a tap
// on these machines), creating one registers it (~0.3-0.5 ms). Sent from the main thread, 2,000
// tap deletions were 34 s of the agent's event loop (no DHCP answer, no heartbeat meanwhile).
// Here each such request has a socket of its own (opened in the handle's namespace) and its
// sendmsg runs on a pool thread (koffi async call); by the time it returns the kernel has
// processed the request and queued its acknowledgement, which the main thread then reads
// without blocking. A request's promise settles only with that acknowledgement.
//
// Jobs run one at a time, in the order they were queued (the lane): a handle never holds more
// than one pool thread for kernel writes, so the notification socket's poll and the DHCP
// responder's receive keep theirs, and the writes queue up in RTNL anyway.
import type { NetnsBinding } from '../netns.js';
import { callAsync, closeFn, lastErrno, pollFn, recvfromFn, sendtoFn } from '../../packet/raw.js';
import { errnoName } from '../errno.js';
import { EAGAIN, EINTR, KERNEL_ADDRESS, KERNEL_ADDRESS_LEN, MSG_DONTWAIT, openRouteSocket, pollIn } from './route-socket.js';

const NLMSG_HDRLEN = 16;
const NLMSG_ERROR = 2;
const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;
/** How long an acknowledgement may take to appear once sendmsg returned (it is normally already there). */
const ACK_TIMEOUT_MS = 5000;

export interface RawReply {
  type: number;
  data: Buffer;
}

export class OffloadedRequests {
  private readonly fd: number;
  private readonly port: number;
  private seq = Math.floor(Math.random() * 0x7fffffff);
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly buf = Buffer.alloc(64 * 1024);

  constructor(ns: NetnsBinding) {
    ({ fd: this.fd, port: this.port } = openRouteSocket(ns));
  }

  /**
   * Run `job` once every job queued before it has settled. Jobs use the thread pool for their
   * blocking calls (callAsync) and keep at most one such call in flight.
   */
  serial<T>(job: () => Promise<T>): Promise<T> {
    const run = (): Promise<T> => (this.closed ? Promise.reject(closedError()) : job());
    const next = this.tail.then(run, run);
    this.tail = next.catch(() => undefined);
    return next;
  }

  /**
   * Send one request (REQUEST|ACK plus `flags`) from a pool thread; resolves once the kernel
   * acknowledged it, or rejects with `Error('Request rejected: ECODE')` as the batcher does.
   */
  request(type: number, body: Buffer, flags = 0): Promise<RawReply[]> {
    return this.serial(() => this.send(type, body, flags));
  }

  /** No new job starts; the socket is closed once the running one (if any) has returned. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    void this.tail.finally(() => closeFn(this.fd));
  }

  private async send(type: number, body: Buffer, flags: number): Promise<RawReply[]> {
    const seq = (this.seq = (this.seq % 0x7fffffff) + 1);
    const len = NLMSG_HDRLEN + body.length;
    const msg = Buffer.alloc((len + 3) & ~3);
    msg.writeUInt32LE(len, 0);
    msg.writeUInt16LE(type, 4);
    msg.writeUInt16LE(flags | NLM_F_REQUEST | NLM_F_ACK, 6);
    msg.writeUInt32LE(seq, 8);
    msg.writeUInt32LE(this.port, 12);
    body.copy(msg, NLMSG_HDRLEN);
    const sent = await callAsync(sendtoFn, this.fd, msg, msg.length, 0, KERNEL_ADDRESS, KERNEL_ADDRESS_LEN);
    if (sent.result < 0) throw new Error(`Request rejected: ${errnoName(sent.errno)}`);
    return this.reply(seq);
  }

  /** The replies to request `seq`, up to its acknowledgement; anything older is discarded. */
  private async reply(seq: number): Promise<RawReply[]> {
    const out: RawReply[] = [];
    for (;;) {
      const n = recvfromFn(this.fd, this.buf, this.buf.length, MSG_DONTWAIT, null, null) as number;
      if (n < 0) {
        const e = lastErrno();
        if (e === EINTR) continue;
        if (e !== EAGAIN) throw new Error(`Request rejected: ${errnoName(e)}`);
        // not queued yet (it always was when measured): wait for it on the pool, bounded
        const ready = await callAsync(pollFn, pollIn(this.fd), 1, ACK_TIMEOUT_MS);
        if (ready.result === 0) throw new Error('Request rejected: ETIMEDOUT');
        continue;
      }
      let off = 0;
      while (off + NLMSG_HDRLEN <= n) {
        const mlen = this.buf.readUInt32LE(off);
        if (mlen < NLMSG_HDRLEN || off + mlen > n) break;
        const mtype = this.buf.readUInt16LE(off + 4);
        const mseq = this.buf.readUInt32LE(off + 8);
        if (mseq === seq) {
          const data = Buffer.from(this.buf.subarray(off + NLMSG_HDRLEN, off + mlen));
          if (mtype === NLMSG_ERROR) {
            const errno = -data.readInt32LE(0);
            if (errno !== 0) throw new Error(`Request rejected: ${errnoName(errno)}`);
            return out;
          }
          out.push({ type: mtype, data });
        }
        off += (mlen + 3) & ~3;
      }
    }
  }
}

function closedError(): Error {
  return new Error('Request rejected: EBADF');
}
