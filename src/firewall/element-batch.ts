// Set-element updates as one nfnetlink transaction (NFNL batch of NFT_MSG_DELSETELEM /
// NFT_MSG_NEWSETELEM), encoding the same element text the renderer produces. Atomic like an
// `nft -f` batch; used for the common case (a port or profile changed) where nft's own cost
// would dominate. Any refusal by the kernel aborts the whole batch and is thrown.
import ipaddr from 'ipaddr.js';
import { PlumbError } from '../util/errors.js';
import { NFNL_SUBSYS_NFTABLES, NLMSG_ERROR, NLM_F_ACK, NLM_F_CREATE, NLM_F_REQUEST, attr, be32, message, sequence, strz, transact, NfnetlinkError } from './nfnetlink.js';
import { TABLE_NAME, type NftFamily } from './spec.js';

const NFNL_MSG_BATCH_BEGIN = 0x10;
const NFNL_MSG_BATCH_END = 0x11;
const NFT_MSG_NEWSETELEM = 12;
const NFT_MSG_DELSETELEM = 14;
const NFTA_SET_ELEM_LIST_TABLE = 1;
const NFTA_SET_ELEM_LIST_SET = 2;
const NFTA_SET_ELEM_LIST_ELEMENTS = 3;
const NFTA_LIST_ELEM = 1;
const NFTA_SET_ELEM_KEY = 1;
const NFTA_SET_ELEM_DATA = 2;
const NFTA_SET_ELEM_KEY_END = 10;
const NFTA_DATA_VALUE = 1;
const NFTA_DATA_VERDICT = 2;
const NFTA_VERDICT_CODE = 1;
const NFTA_VERDICT_CHAIN = 2;
const NFT_JUMP = -3;
const NFT_GOTO = -4;
const FAMILY: Record<NftFamily, number> = { inet: 1, arp: 3, bridge: 7 };

/** An element or declaration this encoder does not know how to write (a bug, not bad input). */
export class ElementEncodingError extends PlumbError {}

type Field = 'ifname' | 'ether_addr' | 'ipv4_addr' | 'ipv6_addr' | 'int128';

export interface SetShape {
  fields: Field[];
  interval: boolean;
  verdictMap: boolean;
}

/** The key layout of a set from its declaration lines (as rendered in desired.ts). */
export function setShape(decl: string[]): SetShape {
  const typeLine = decl.find((d) => d.startsWith('type ') || d.startsWith('typeof '));
  if (!typeLine) throw new ElementEncodingError(`set declaration without a type: ${decl.join('; ')}`);
  const [keyPart, dataPart] = typeLine.replace(/^typeof |^type /, '').split(' : ');
  const fields = (keyPart ?? '').split(' . ').map((f): Field => {
    if (f === 'ifname' || f === 'iifname' || f === 'oifname') return 'ifname';
    if (f === 'ether_addr' || f === 'ipv4_addr' || f === 'ipv6_addr') return f;
    if (f === '@th,64,128') return 'int128';
    throw new ElementEncodingError(`unsupported set key field '${f}'`);
  });
  if (dataPart !== undefined && dataPart !== 'verdict') throw new ElementEncodingError(`unsupported map data '${dataPart}'`);
  return { fields, interval: decl.includes('flags interval'), verdictMap: dataPart === 'verdict' };
}

function encodeField(field: Field, text: string): Buffer {
  switch (field) {
    case 'ifname': {
      const name = text.replace(/^"|"$/g, '');
      const b = Buffer.alloc(16);
      b.write(name, 'utf8');
      return b;
    }
    case 'ether_addr':
      return Buffer.from(text.split(':').map((h) => parseInt(h, 16)));
    case 'ipv4_addr':
    case 'ipv6_addr':
      return Buffer.from(ipaddr.parse(text).toByteArray());
    case 'int128': {
      const b = Buffer.alloc(16);
      let v = BigInt(text);
      for (let i = 15; i >= 0; i--) {
        b[i] = Number(v & 0xffn);
        v >>= 8n;
      }
      return b;
    }
  }
}

/** Concatenated keys pad every field to 32-bit registers; a single field is sent as is. */
function joinFields(parts: Buffer[]): Buffer {
  if (parts.length === 1) return parts[0]!;
  return Buffer.concat(parts.map((p) => (p.length % 4 === 0 ? p : Buffer.concat([p, Buffer.alloc(4 - (p.length % 4))]))));
}

function encodeElement(shape: SetShape, element: string, withData: boolean): Buffer {
  const [keyText, dataText] = shape.verdictMap ? element.split(' : ') : [element, undefined];
  const texts = (keyText ?? '').split(' . ');
  if (texts.length !== shape.fields.length) throw new ElementEncodingError(`element '${element}' does not fit the set's key`);
  const start: Buffer[] = [];
  const end: Buffer[] = [];
  texts.forEach((t, i) => {
    const field = shape.fields[i]!;
    const range = shape.interval && field !== 'ifname' && /^[^-]+-[^-]+$/.test(t) ? t.split('-') : [t, t];
    start.push(encodeField(field, range[0]!));
    end.push(encodeField(field, range[1]!));
  });
  const parts = [attr(NFTA_SET_ELEM_KEY, [attr(NFTA_DATA_VALUE, joinFields(start))])];
  if (shape.interval) parts.push(attr(NFTA_SET_ELEM_KEY_END, [attr(NFTA_DATA_VALUE, joinFields(end))]));
  if (shape.verdictMap && withData) {
    const m = /^(jump|goto) (\S+)$/.exec(dataText ?? '');
    if (!m) throw new ElementEncodingError(`unsupported verdict '${dataText ?? ''}'`);
    parts.push(
      attr(NFTA_SET_ELEM_DATA, [attr(NFTA_DATA_VERDICT, [attr(NFTA_VERDICT_CODE, be32(m[1] === 'jump' ? NFT_JUMP : NFT_GOTO)), attr(NFTA_VERDICT_CHAIN, strz(m[2]!))])]),
    );
  }
  return attr(NFTA_LIST_ELEM, parts);
}

export interface SetDelta {
  family: NftFamily;
  set: string;
  decl: string[];
  add: string[];
  del: string[];
}

// Large deltas are split into several messages inside the same batch (netlink message size).
const CHUNK = 256;

/** Apply every delta in one atomic nfnetlink batch: all deletions first, then additions. */
export function applyElementBatch(netns: string | undefined, deltas: SetDelta[]): void {
  const msgs: { type: number; flags: number; family: number; attrs: Buffer[] }[] = [];
  for (const pass of ['del', 'add'] as const) {
    for (const d of deltas) {
      const shape = setShape(d.decl);
      const els = d[pass];
      for (let i = 0; i < els.length; i += CHUNK) {
        const encoded = els.slice(i, i + CHUNK).map((e) => encodeElement(shape, e, pass === 'add'));
        msgs.push({
          type: (NFNL_SUBSYS_NFTABLES << 8) | (pass === 'add' ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM),
          flags: NLM_F_REQUEST | NLM_F_ACK | (pass === 'add' ? NLM_F_CREATE : 0),
          family: FAMILY[d.family],
          attrs: [attr(NFTA_SET_ELEM_LIST_TABLE, strz(TABLE_NAME)), attr(NFTA_SET_ELEM_LIST_SET, strz(d.set)), attr(NFTA_SET_ELEM_LIST_ELEMENTS, encoded)],
        });
      }
    }
  }
  if (msgs.length === 0) return;
  const seq0 = sequence(msgs.length + 2);
  const payload = Buffer.concat([
    message(NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, seq0, 0, NFNL_SUBSYS_NFTABLES, []),
    ...msgs.map((m, i) => message(m.type, m.flags, seq0 + 1 + i, m.family, 0, m.attrs)),
    message(NFNL_MSG_BATCH_END, NLM_F_REQUEST, seq0 + 1 + msgs.length, 0, NFNL_SUBSYS_NFTABLES, []),
  ]);
  const replies = transact(netns, payload);
  const acked = new Set<number>();
  for (const r of replies) {
    if (r.type !== NLMSG_ERROR) continue;
    const errno = -r.body.readInt32LE(0);
    if (errno !== 0) throw new NfnetlinkError(`set element batch (message ${r.seq - seq0} of ${msgs.length})`, errno);
    acked.add(r.seq);
  }
  // Every element message asked for an ack; a missing one means the batch was not processed.
  for (let i = 0; i < msgs.length; i++) {
    if (!acked.has(seq0 + 1 + i)) throw new NfnetlinkError(`set element batch: no acknowledgement for message ${i + 1}`, 0);
  }
}
