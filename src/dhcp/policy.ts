// What to answer (RFC 2131 4.3): OFFER/ACK/NAK for the port's own binding, nothing for
// anything else. Pure: the transport supplies the ingress interface and sends the result.
import { MessageType, type DhcpMessage } from './codec/message.js';
import {
  OPT,
  addressListOption,
  addressOption,
  classlessRoutesOption,
  domainSearchOption,
  stringOption,
  u16Option,
  u32Option,
} from './codec/options.js';
import type { Binding, BindingTable } from './bindings.js';

/** A reply's `message.options` may be shared with other replies: never modify it. */
export type Outcome =
  | { kind: 'reply'; message: DhcpMessage; to: { ip: string; mac: string; port: number }; binding: Binding; replyType: MessageType }
  | { kind: 'ignored'; reason: 'unknown-mac' | 'wrong-port' | 'not-a-request' | 'not-a-port' }
  | { kind: 'noted'; event: 'release' | 'decline'; binding: Binding };

const BROADCAST = { ip: '255.255.255.255', mac: 'ff:ff:ff:ff:ff:ff', port: 68 };

function messageType(m: DhcpMessage): number | undefined {
  const t = m.options.get(OPT.MESSAGE_TYPE);
  return t && t.length === 1 ? t[0] : undefined;
}

const ipOf = (b: Buffer | undefined): string | undefined => (b && b.length === 4 ? [...b].join('.') : undefined);

/** `srcMac`: the frame's source, where replies to a relay agent go. */
export function answer(table: BindingTable, ifname: string | undefined, m: DhcpMessage, srcMac = m.chaddr): Outcome {
  if (m.op !== 1) return { kind: 'ignored', reason: 'not-a-request' };
  // the same broadcast is seen again on the bridge (and on uplinks): only ports are served
  if (!ifname || !table.ports.has(ifname)) return { kind: 'ignored', reason: 'not-a-port' };
  const binding = table.byIfname.get(ifname);
  if (!binding || binding.mac !== m.chaddr) return { kind: 'ignored', reason: table.macs.has(m.chaddr) ? 'wrong-port' : 'unknown-mac' };
  const type = messageType(m);
  switch (type) {
    case MessageType.DISCOVER:
      return reply(m, binding, MessageType.OFFER, false, srcMac);
    case MessageType.REQUEST: {
      const serverId = ipOf(m.options.get(OPT.SERVER_ID));
      const requested = ipOf(m.options.get(OPT.REQUESTED_IP)) ?? (m.ciaddr !== '0.0.0.0' ? m.ciaddr : undefined);
      // SELECTING with another server's id: the client chose someone else; stay silent
      if (serverId !== undefined && serverId !== binding.serverId) return { kind: 'ignored', reason: 'not-a-request' };
      if (requested !== binding.ip) return nak(m, binding, srcMac);
      return reply(m, binding, MessageType.ACK, false, srcMac);
    }
    case MessageType.INFORM:
      return reply(m, binding, MessageType.ACK, true, srcMac);
    case MessageType.RELEASE:
      return { kind: 'noted', event: 'release', binding };
    case MessageType.DECLINE:
      return { kind: 'noted', event: 'decline', binding };
    default:
      return { kind: 'ignored', reason: 'not-a-request' };
  }
}

function destination(m: DhcpMessage, yiaddr: string, srcMac: string): { ip: string; mac: string; port: number } {
  // RFC 2131 4.1: to a relay agent's server port when relayed (giaddr), to ciaddr when the
  // client has one, broadcast when asked, else unicast to yiaddr at chaddr (which works on
  // ports without any address on the host side)
  if (m.giaddr !== '0.0.0.0') return { ip: m.giaddr, mac: srcMac, port: 67 };
  if (m.ciaddr !== '0.0.0.0') return { ip: m.ciaddr, mac: m.chaddr, port: 68 };
  if (m.flags & 0x8000) return BROADCAST;
  return { ip: yiaddr, mac: m.chaddr, port: 68 };
}

/** The options of an OFFER/ACK for `b` (shared between replies: never modify the result). */
function replyOptions(b: Binding, type: MessageType, inform: boolean, prl: Buffer | undefined): Map<number, Buffer> {
  const requested = new Set([...(prl ?? [])]);
  const want = (code: number): boolean => requested.size === 0 || requested.has(code);
  const o = new Map<number, Buffer>();
  o.set(OPT.MESSAGE_TYPE, Buffer.from([type]));
  o.set(OPT.SERVER_ID, addressOption(b.serverId));
  if (!inform) {
    o.set(OPT.LEASE_TIME, u32Option(b.leaseSeconds));
    o.set(OPT.RENEWAL_T1, u32Option(Math.floor(b.leaseSeconds / 2)));
    o.set(OPT.REBINDING_T2, u32Option(Math.floor((b.leaseSeconds * 7) / 8)));
  }
  o.set(OPT.SUBNET_MASK, addressOption(b.mask));
  if (want(OPT.BROADCAST)) o.set(OPT.BROADCAST, addressOption(b.broadcast));
  if (b.gateway && want(OPT.ROUTER)) o.set(OPT.ROUTER, addressOption(b.gateway));
  if (b.dns.length && want(OPT.DNS)) o.set(OPT.DNS, addressListOption(b.dns));
  if (b.hostname && want(OPT.HOSTNAME)) o.set(OPT.HOSTNAME, stringOption(b.hostname));
  if (b.domain && want(OPT.DOMAIN)) o.set(OPT.DOMAIN, stringOption(b.domain));
  if (want(OPT.MTU)) o.set(OPT.MTU, u16Option(b.mtu));
  if (b.searchDomains.length && want(OPT.DOMAIN_SEARCH)) o.set(OPT.DOMAIN_SEARCH, domainSearchOption(b.searchDomains));
  if (b.routes.length && requested.has(OPT.CLASSLESS_ROUTES)) {
    // RFC 3442: a client using option 121 ignores option 3, so the default route goes in too
    const routes = b.gateway ? [...b.routes, { destination: '0.0.0.0/0', nexthop: b.gateway }] : b.routes;
    o.set(OPT.CLASSLESS_ROUTES, classlessRoutesOption(routes));
  }
  return o;
}

// A binding's reply options depend only on the reply type and the parameter request list:
// build them once per combination. Bindings are never modified: a changed one is a new object
// (bindings.ts), so the cache follows the desired state. Bounded per binding against clients
// varying their list.
const optionCache = new WeakMap<Binding, Map<string, Map<number, Buffer>>>();
const OPTION_CACHE_PER_BINDING = 32;

function reply(m: DhcpMessage, b: Binding, type: MessageType, inform: boolean, srcMac: string): Outcome {
  const prl = m.options.get(OPT.PARAM_REQUEST);
  const key = `${type}${inform ? 'i' : ''}:${prl ? prl.toString('latin1') : ''}`;
  let perBinding = optionCache.get(b);
  if (!perBinding) optionCache.set(b, (perBinding = new Map()));
  let o = perBinding.get(key);
  if (!o) {
    o = replyOptions(b, type, inform, prl);
    if (perBinding.size >= OPTION_CACHE_PER_BINDING) perBinding.clear();
    perBinding.set(key, o);
  }
  const yiaddr = inform ? '0.0.0.0' : b.ip;
  return {
    kind: 'reply',
    replyType: type,
    binding: b,
    to: destination(m, b.ip, srcMac),
    message: { op: 2, xid: m.xid, secs: 0, flags: m.flags, ciaddr: m.ciaddr, yiaddr, siaddr: '0.0.0.0', giaddr: m.giaddr, chaddr: m.chaddr, options: o },
  };
}

function nak(m: DhcpMessage, b: Binding, srcMac: string): Outcome {
  const o = new Map<number, Buffer>([
    [OPT.MESSAGE_TYPE, Buffer.from([MessageType.NAK])],
    [OPT.SERVER_ID, addressOption(b.serverId)],
  ]);
  return {
    kind: 'reply',
    replyType: MessageType.NAK,
    binding: b,
    to: m.giaddr !== '0.0.0.0' ? { ip: m.giaddr, mac: srcMac, port: 67 } : BROADCAST,
    message: { op: 2, xid: m.xid, secs: 0, flags: m.flags, ciaddr: '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: m.giaddr, chaddr: m.chaddr, options: o },
  };
}
