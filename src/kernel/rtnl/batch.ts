// Requests sent together: every request made in the same tick of the event loop goes out in
// one sendmsg (the kernel walks the messages of a datagram one by one and acknowledges each),
// instead of one syscall, one getsockname and one buffer per request as the `netlink`
// package's request() does. Replies are still matched per sequence number by the package.
import type { NetlinkSocket } from 'netlink';
import { errnoName } from '../errno.js';

const NLMSG_HDRLEN = 16;
const NLMSG_ERROR = 2;
const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;
/** Messages per datagram; a request is ~40-200 bytes, so a batch stays well under the send buffer. */
const MAX_BATCH = 256;

interface RawReply {
  type: number;
  data: Buffer;
}

interface Pending {
  type: number;
  flags: number;
  body: Buffer;
  resolve: (msgs: RawReply[]) => void;
  reject: (err: Error) => void;
}

/** The package's reply bookkeeping (protected in its typings, public at run time). */
interface Refs {
  makeRef(seq: number, cb: (err: Error | null, msg?: RawReply[]) => void): number;
  dropRef(seq: number): void;
}

export class RequestBatcher {
  private queue: Pending[] = [];
  private scheduled = false;
  private port: number | undefined;

  constructor(private readonly socket: NetlinkSocket) {}

  /**
   * Send one request (REQUEST|ACK plus `flags`); resolves with its reply messages (none for a
   * plain ACK) or rejects with `Error('Request rejected: ECODE')`, as the package's request().
   * Requests that are slow inside the kernel's sendmsg (creating or deleting a device) do not
   * come here: the handle sends them from the thread pool (offload.ts).
   */
  request(type: number, body: Buffer, flags = 0): Promise<RawReply[]> {
    return new Promise((resolve, reject) => {
      this.queue.push({ type, flags, body, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        queueMicrotask(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    while (this.queue.length > 0) this.send(this.queue.splice(0, MAX_BATCH));
  }

  private send(batch: Pending[]): void {
    const refs = this.socket as unknown as Refs;
    this.port ??= this.socket.address().port;
    const parts: Buffer[] = [];
    const seqs: number[] = [];
    const live = new Set<number>(); // requests still waiting for their reply
    for (const p of batch) {
      const seq = this.socket.generateSeq();
      const len = NLMSG_HDRLEN + p.body.length;
      const hdr = Buffer.alloc(NLMSG_HDRLEN);
      hdr.writeUInt32LE(len, 0);
      hdr.writeUInt16LE(p.type, 4);
      hdr.writeUInt16LE(p.flags | NLM_F_REQUEST | NLM_F_ACK, 6);
      hdr.writeUInt32LE(seq, 8);
      hdr.writeUInt32LE(this.port, 12);
      parts.push(hdr, p.body);
      live.add(seq);
      const pad = ((len + 3) & ~3) - len;
      if (pad > 0) parts.push(Buffer.alloc(pad));
      seqs.push(seq);
      refs.makeRef(seq, (err, msgs = []) => {
        if (!live.delete(seq)) return;
        refs.dropRef(seq);
        if (err) return p.reject(err);
        const first = msgs[0];
        if (first && first.type === NLMSG_ERROR) {
          const errno = -first.data.readInt32LE(0);
          if (errno !== 0) return p.reject(new Error(`Request rejected: ${errnoName(errno)}`));
          return p.resolve([]);
        }
        p.resolve(msgs);
      });
    }
    this.socket.socket.send(Buffer.concat(parts), {}, (error) => {
      if (!error) return;
      // nothing of this datagram reached the kernel: fail every request in it
      batch.forEach((p, i) => {
        const seq = seqs[i] as number;
        if (!live.delete(seq)) return;
        refs.dropRef(seq);
        p.reject(error);
      });
    });
  }
}
