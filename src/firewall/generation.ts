// The nftables ruleset generation of a network namespace (NFT_MSG_GETGEN over nfnetlink). The
// kernel bumps it on every committed transaction, by anyone, in any table. If it has not moved
// since we last saw our tables, they are still exactly as we left them, so a pass can skip the
// listing (the costly part: ~80 ms for `nft list ruleset` at 1,000 ports) and still notice any
// hand edit on the next pass, because that edit moved the generation.
import { PlumbError } from '../util/errors.js';
import { NFNL_SUBSYS_NFTABLES, NLMSG_ERROR, NLM_F_REQUEST, message, sequence, transact } from './nfnetlink.js';

const NFT_MSG_GETGEN = 16;
const NFT_MSG_NEWGEN = 15;
const NFTA_GEN_ID = 1;

export class NftGenerationError extends PlumbError {}

/** Current ruleset generation id in `netns` (undefined: this process's namespace). ~40 µs. */
export function rulesetGeneration(netns: string | undefined): number {
  const seq = sequence();
  const replies = transact(netns, message((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN, NLM_F_REQUEST, seq, 0, 0, []));
  const r = replies.find((x) => x.seq === seq);
  if (!r) throw new NftGenerationError('no reply to NFT_MSG_GETGEN');
  if (r.type === NLMSG_ERROR) throw new NftGenerationError(`NFT_MSG_GETGEN failed: errno ${-r.body.readInt32LE(0)}`);
  if (r.type !== ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN)) throw new NftGenerationError(`unexpected nfnetlink reply type ${r.type}`);
  let off = 4; // after nfgenmsg
  while (off + 4 <= r.body.length) {
    const alen = r.body.readUInt16LE(off);
    const atype = r.body.readUInt16LE(off + 2) & 0x3fff;
    if (alen < 4) break;
    if (atype === NFTA_GEN_ID && alen >= 8) return r.body.readUInt32BE(off + 4);
    off += (alen + 3) & ~3;
  }
  throw new NftGenerationError('NFT_MSG_NEWGEN without NFTA_GEN_ID');
}
