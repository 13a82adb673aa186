// The DHCPv4 responder of the agent: one packet socket per namespace, bindings replaced
// atomically from the desired state (no restart, no reload, no socket churn), answers only on
// the port owning the binding and only for its MAC; everything else is counted and dropped.
import type { Logger } from 'pino';
import type { HostState } from '../state/schema.js';
import { NetnsBinding } from '../kernel/netns.js';
import { openKernelHandle } from '../kernel/handle.js';
import type { KernelHandle } from '../kernel/types.js';
import { PacketSocket, IPV6_REQUESTS_FILTER } from '../packet/packet-socket.js';
import { buildRa, parseRs, raBindings, type RaBinding } from './ra.js';
import { buildInfoReply, parseInfoRequest, type InfoRequest } from './dhcpv6.js';
import { UDP4_HEADERS, locateUdp4, macString, writeUdp4Headers } from '../packet/frames.js';
import { errorMessage } from '../util/errors.js';
import { logger } from '../util/log.js';
import { buildBindings, type BindingTable } from './bindings.js';
import { MessageType, encodeOptions, messageLength, parseMessage, writeFixedHeader, type DhcpMessage } from './codec/message.js';
import { answer, type Outcome } from './policy.js';

export interface ResponderStats {
  received: number;
  answered: number;
  offers: number;
  acks: number;
  naks: number;
  ignoredUnknownMac: number;
  ignoredWrongPort: number;
  ignoredOther: number;
  malformed: number;
  releases: number;
  declines: number;
  sendErrors: number;
  rsReceived: number;
  raSent: number;
  dhcpv6Replies: number;
}

export interface Responder {
  update(state: HostState): void;
  /** The host's current links, as the agent observed them after a pass (saves a dump per change). */
  setLinks(links: readonly { index: number; name: string; mac: string }[]): void;
  stats(): ResponderStats;
  close(): Promise<void>;
}

interface LinkInfo {
  name: string;
  mac: string;
}

/** At most one link dump per this interval when bindings name ports not seen yet. */
const REFRESH_MIN_INTERVAL_MS = 250;

export async function startResponder(opts: { netns?: string; logger?: Logger; raIntervalSeconds?: number } = {}): Promise<Responder> {
  const log = opts.logger ?? logger('dhcp', opts.netns ? { netns: opts.netns } : {});
  const ns = new NetnsBinding(opts.netns);
  const handle: KernelHandle = await openKernelHandle(opts.netns === undefined ? {} : { netns: opts.netns });
  const sock = new PacketSocket(ns);
  const rsSock = new PacketSocket(ns, IPV6_REQUESTS_FILTER);
  const stats: ResponderStats = { received: 0, answered: 0, offers: 0, acks: 0, naks: 0, ignoredUnknownMac: 0, ignoredWrongPort: 0, ignoredOther: 0, malformed: 0, releases: 0, declines: 0, sendErrors: 0, rsReceived: 0, raSent: 0, dhcpv6Replies: 0 };
  let table: BindingTable = { byIfname: new Map(), macs: new Set(), ports: new Set() };
  let ra = new Map<string, RaBinding>();
  let links = new Map<number, LinkInfo>();
  let linkNames = new Set<string>();
  let refreshing: Promise<void> | undefined;
  const allMulti = new Set<number>(); // ports receiving DHCPv6's All_DHCP_Relay_Agents_and_Servers
  const useLinks = (ls: readonly { index: number; name: string; mac: string }[]): void => {
    links = new Map(ls.map((l) => [l.index, { name: l.name, mac: l.mac }]));
    linkNames = new Set(ls.map((l) => l.name));
    for (const [index, link] of links) if (!allMulti.has(index) && ra.has(link.name) && rsSock.allMulticast(index)) allMulti.add(index);
  };
  const refreshLinks = (): Promise<void> =>
    (refreshing ??= handle
      .linkList()
      .then(useLinks)
      .catch((err: unknown) => log.warn({ err: errorMessage(err) }, 'link list failed'))
      .finally(() => {
        refreshing = undefined;
      }));
  await refreshLinks();
  let refreshTimer: NodeJS.Timeout | undefined;
  let refreshedAt = performance.now();
  const throttledRefresh = (): void => {
    if (refreshTimer) return;
    const wait = Math.max(0, REFRESH_MIN_INTERVAL_MS - (performance.now() - refreshedAt));
    refreshTimer = setTimeout(() => {
      refreshTimer = undefined;
      refreshedAt = performance.now();
      void refreshLinks();
    }, wait);
    refreshTimer.unref();
  };

  // Replies are built in one buffer (sending is synchronous), from each reply's options encoded
  // once: policy shares an options map between replies of the same kind to the same binding.
  let tx = Buffer.alloc(2048);
  const encodedOptions = new WeakMap<Map<number, Buffer>, Buffer>();
  const replyFrame = (out: Extract<Outcome, { kind: 'reply' }>, link: LinkInfo): number => {
    let opts = encodedOptions.get(out.message.options);
    if (!opts) encodedOptions.set(out.message.options, (opts = encodeOptions(out.message.options)));
    const len = messageLength(opts);
    if (tx.length < UDP4_HEADERS + len) tx = Buffer.alloc(UDP4_HEADERS + len);
    writeFixedHeader(out.message, tx, UDP4_HEADERS);
    opts.copy(tx, UDP4_HEADERS + 240);
    tx.fill(0, UDP4_HEADERS + 240 + opts.length, UDP4_HEADERS + len);
    return writeUdp4Headers(tx, { srcMac: link.mac, dstMac: out.to.mac, srcIp: out.binding.serverId, dstIp: out.to.ip, srcPort: 67, dstPort: out.to.port }, len);
  };

  const serve = (ifIndex: number, link: LinkInfo | undefined, msg: DhcpMessage, srcMac: string): void => {
    const out = answer(table, link?.name, msg, srcMac);
    if (out.kind === 'ignored') {
      if (out.reason === 'unknown-mac') stats.ignoredUnknownMac += 1;
      else if (out.reason === 'wrong-port') stats.ignoredWrongPort += 1;
      else stats.ignoredOther += 1;
      return;
    }
    if (out.kind === 'noted') {
      if (out.event === 'decline') {
        stats.declines += 1;
        log.warn({ port: out.binding.portId, ip: out.binding.ip, mac: out.binding.mac }, 'DHCPDECLINE: address conflict reported by the client');
      } else {
        stats.releases += 1;
        log.info({ port: out.binding.portId, ip: out.binding.ip }, 'DHCPRELEASE');
      }
      return;
    }
    if (!link) return;
    try {
      sock.send(ifIndex, tx, replyFrame(out, link));
      stats.answered += 1;
      if (out.replyType === MessageType.OFFER) stats.offers += 1;
      else if (out.replyType === MessageType.ACK) stats.acks += 1;
      else if (out.replyType === MessageType.NAK) {
        stats.naks += 1;
        log.info({ port: out.binding.portId, ip: out.binding.ip }, 'DHCPNAK: the client asked for an address it is not bound to');
      }
    } catch (err) {
      stats.sendErrors += 1;
      log.warn({ err: errorMessage(err), ifIndex }, 'reply not sent');
    }
  };

  /** `frame` is the socket's receive buffer: everything is answered before returning, or copied. */
  const handleFrame = (ifIndex: number, frame: Buffer): void => {
    stats.received += 1;
    const at = locateUdp4(frame);
    const payload = at && at.dstPort === 67 ? frame.subarray(at.payloadOffset, at.payloadOffset + at.payloadLength) : undefined;
    const msg = payload && parseMessage(payload);
    if (!payload || !msg) {
      stats.malformed += 1;
      return;
    }
    const srcMac = macString(frame, 6);
    const link = links.get(ifIndex);
    if (link) {
      serve(ifIndex, link, msg, srcMac);
      return;
    }
    // a port created since the last refresh: look again, then answer from a copy
    const kept = parseMessage(Buffer.from(payload)) as DhcpMessage;
    refreshLinks()
      .then(() => serve(ifIndex, links.get(ifIndex), kept, srcMac))
      .catch((err: unknown) => {
        stats.malformed += 1;
        log.warn({ err: errorMessage(err) }, 'packet dropped');
      });
  };

  sock.start(({ ifIndex, frame }) => {
    // never let one packet take the responder down
    try {
      handleFrame(ifIndex, frame);
    } catch (err) {
      stats.malformed += 1;
      log.warn({ err: errorMessage(err) }, 'packet dropped');
    }
  });
  const sendRa = (ifIndex: number, dst: { ip: string; mac: string }): void => {
    const link = links.get(ifIndex);
    const b = link ? ra.get(link.name) : undefined;
    if (!link || !b) return;
    try {
      rsSock.send(ifIndex, buildRa(b, link.mac, dst));
      stats.raSent += 1;
    } catch (err) {
      stats.sendErrors += 1;
      log.debug({ err: errorMessage(err), ifIndex }, 'RA not sent');
    }
  };
  const answerInfo = (ifIndex: number, req: InfoRequest): void => {
    const link = links.get(ifIndex);
    const b = link ? ra.get(link.name) : undefined;
    if (!link || !b) {
      stats.ignoredOther += 1;
      return;
    }
    try {
      rsSock.send(ifIndex, buildInfoReply(b, link.mac, req));
      stats.dhcpv6Replies += 1;
    } catch (err) {
      stats.sendErrors += 1;
      log.debug({ err: errorMessage(err), ifIndex }, 'DHCPv6 reply not sent');
    }
  };
  rsSock.start(({ ifIndex, frame }) => {
    if (frame.readUInt8(20) === 17) {
      const info = parseInfoRequest(frame);
      if (!info) {
        stats.malformed += 1;
        return;
      }
      void (links.has(ifIndex) ? Promise.resolve() : refreshLinks()).then(() => answerInfo(ifIndex, info));
      return;
    }
    const src = parseRs(frame);
    if (!src) {
      stats.malformed += 1;
      return;
    }
    stats.rsReceived += 1;
    // answer the solicitation's own source address, never a guess
    void (links.has(ifIndex) ? Promise.resolve() : refreshLinks()).then(() => sendRa(ifIndex, src));
  });
  // unsolicited RAs on every port with an IPv6 subnet (RFC 4861 6.2.4), at a steady interval
  const periodic = setInterval(() => {
    for (const [index, link] of links) if (ra.has(link.name)) sendRa(index, { ip: 'ff02::1', mac: '33:33:00:00:00:01' });
  }, (opts.raIntervalSeconds ?? 200) * 1000);
  periodic.unref();
  log.info({ netns: opts.netns }, 'DHCP/RA responder listening');

  return {
    update(state) {
      table = buildBindings(state);
      ra = raBindings(state);
      // Ports with an IPv6 subnet need ALLMULTI (and periodic RAs) as soon as they exist. The
      // agent's setLinks() after each pass brings new ports in without a dump; when used on its
      // own, a port not seen yet is looked for with a throttled dump. (Frames from an ifindex
      // not known yet trigger a dump of their own either way.)
      if ([...ra.keys()].some((name) => !linkNames.has(name))) throttledRefresh();
    },
    setLinks: useLinks,
    stats: () => ({ ...stats }),
    async close() {
      clearInterval(periodic);
      clearTimeout(refreshTimer);
      await Promise.all([sock.close(), rsSock.close()]);
      handle.close();
      ns.close();
    },
  };
}
