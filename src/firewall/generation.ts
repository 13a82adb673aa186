// The nftables ruleset generation of a network namespace (NFT_MSG_GETGEN over nfnetlink). The
// kernel bumps it on every committed transaction, by anyone, in any table. If it has not moved
// since we last saw our tables, they are still exactly as we left them, so a pass can skip the
// listing (the costly part: ~80 ms for `nft list ruleset` at 1,000 ports) and still notice any
// hand edit on the next pass, because that edit moved the generation.
import koffi from 'koffi';
import { withNetns } from '../kernel/netns.js';
import { PlumbError } from '../util/errors.js';

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const NETLINK_NETFILTER = 12;
const NFNL_SUBSYS_NFTABLES = 10;
const NFT_MSG_GETGEN = 16;
const NFT_MSG_NEWGEN = 15;
const NLM_F_REQUEST = 1;
const NLMSG_ERROR = 2;
const NFTA_GEN_ID = 1;

const libc = koffi.load('libc.so.6');
const socketNative = libc.func('int socket(int domain, int type, int protocol)');
const sendNative = libc.func('long send(int fd, const void *buf, size_t len, int flags)');
const recvNative = libc.func('long recv(int fd, _Out_ uint8_t *buf, size_t len, int flags)');
const closeNative = libc.func('int close(int fd)');

export class NftGenerationError extends PlumbError {}

function request(seq: number): Buffer {
  const b = Buffer.alloc(20);
  b.writeUInt32LE(20, 0); // nlmsg_len
  b.writeUInt16LE((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN, 4);
  b.writeUInt16LE(NLM_F_REQUEST, 6);
  b.writeUInt32LE(seq, 8);
  b.writeUInt32LE(0, 12); // pid: kernel
  // nfgenmsg: family AF_UNSPEC, version NFNETLINK_V0, res_id 0
  return b;
}

function parseGeneration(b: Buffer, len: number): number {
  const type = b.readUInt16LE(4);
  if (type === NLMSG_ERROR) throw new NftGenerationError(`NFT_MSG_GETGEN failed: errno ${-b.readInt32LE(16)}`);
  if (type !== ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN)) throw new NftGenerationError(`unexpected nfnetlink reply type ${type}`);
  let off = 20;
  while (off + 4 <= len) {
    const alen = b.readUInt16LE(off);
    const atype = b.readUInt16LE(off + 2) & 0x3fff;
    if (alen < 4) break;
    if (atype === NFTA_GEN_ID && alen >= 8) return b.readUInt32BE(off + 4);
    off += (alen + 3) & ~3;
  }
  throw new NftGenerationError('NFT_MSG_NEWGEN without NFTA_GEN_ID');
}

let seq = 1;

/** Current ruleset generation id in `netns` (undefined: this process's namespace). ~50 µs. */
export function rulesetGeneration(netns: string | undefined): number {
  return withNetns(netns, () => {
    const fd = socketNative(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER) as number;
    if (fd < 0) throw new NftGenerationError('cannot open a NETLINK_NETFILTER socket');
    try {
      const req = request(seq++);
      if ((sendNative(fd, req, req.length, 0) as number) !== req.length) throw new NftGenerationError('send NFT_MSG_GETGEN failed');
      const buf = Buffer.alloc(8192);
      const n = recvNative(fd, buf, buf.length, 0) as number;
      if (n < 20) throw new NftGenerationError(`short nfnetlink reply (${n} bytes)`);
      return parseGeneration(buf, n);
    } finally {
      closeNative(fd);
    }
  });
}
