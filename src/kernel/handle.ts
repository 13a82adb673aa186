// The KernelHandle over rtnetlink (the `netlink` package as transport, plumb's own codecs in
// rtnl/), bound to one network namespace: its sockets are opened inside it. Requests are
// pipelined: each gets its own sequence number, so hundreds can be in flight at once, and
// those made in the same tick share one sendmsg (rtnl/batch.ts). Requests that are slow inside
// the kernel (creating and deleting devices, TUNSETIFF) are sent from the libuv thread pool, one
// at a time (rtnl/offload.ts), so the event loop keeps running while the kernel works.
import { readFileSync, writeFileSync, closeSync } from 'node:fs';
import { createRtNetlink, type RtNetlinkSocket } from 'netlink';
import type { FdbEntry, KernelEvent, KernelEventKind, KernelHandle, KernelObject, Link, LinkChange, LinkSpec, Neigh, Route, Rule } from './types.js';
import { announceFrame, FrameSender } from './announce.js';
import { toKernelError } from './errno.js';
import { errorMessage } from '../util/errors.js';
import { logger } from '../util/log.js';
import { NetnsBinding, openNetnsFd } from './netns.js';
import { closeTapFd, configureTap, openTun } from './tap.js';
import { AF_BRIDGE, AF_INET, AF_INET6 } from './rtnl/addr.js';
import { parseAttrs, readU32 } from './rtnl/attrs.js';
import { NLM_F, NTF, RTA, RTM } from './rtnl/constants.js';
import { linkChangeBody, linkCreateBody, linkDumpBody, linkGroupBody, linkIndexBody, parseLink } from './rtnl/links.js';
import { rtmsg, fibRuleHdr } from './rtnl/messages.js';
import { dumpBody, fdbBody, neighBody, parseFdb, parseNeigh } from './rtnl/neighbours.js';
import { parseRoute, routeBody } from './rtnl/routes.js';
import { parseRule, ruleBody } from './rtnl/rules.js';
import { RequestBatcher } from './rtnl/batch.js';
import { OffloadedRequests } from './rtnl/offload.js';
import { NotificationSocket, RTNLGRP } from './rtnl/notify-socket.js';

const log = logger('kernel');

interface RawMessage {
  type: number;
  data: Buffer;
}


class RtnlHandle implements KernelHandle {
  private events: NotificationSocket | undefined;
  private readonly listeners = new Set<(e: KernelEvent) => void>();
  private dumpQueue: Promise<unknown> = Promise.resolve();
  private readonly frames: FrameSender;
  private readonly batcher: RequestBatcher;
  private readonly slow: OffloadedRequests;
  /** Tap creations in flight at once (each holds a pool thread while in TUNSETIFF). */
  private readonly tapLane = new Lane(TAP_CREATIONS_AT_ONCE);

  // Two sockets: requests (pipelined, many in flight) and dumps. The netlink package can
  // reassemble only one multipart reply at a time per socket, and an ACK arriving between
  // the parts of a dump would cut it short, so dumps get their own socket, one at a time.
  constructor(
    private readonly sock: RtNetlinkSocket,
    private readonly dumpSock: RtNetlinkSocket,
    private readonly ns: NetnsBinding,
  ) {
    this.frames = new FrameSender(ns);
    this.batcher = new RequestBatcher(sock.socket);
    this.slow = new OffloadedRequests(ns);
  }

  private async request(op: string, type: number, body: Buffer, flags = 0, detail?: string): Promise<RawMessage[]> {
    // creating and deleting devices is slow inside the kernel's sendmsg: from the thread pool,
    // one at a time; everything else from here, batched
    const slow = type === RTM.DELLINK || (type === RTM.NEWLINK && (flags & NLM_F.CREATE) !== 0);
    try {
      return await (slow ? this.slow.request(type, body, flags) : this.batcher.request(type, body, flags));
    } catch (err) {
      throw toKernelError(op, err, detail);
    }
  }

  private dump(op: string, type: number, body: Buffer): Promise<RawMessage[]> {
    const run = async (): Promise<RawMessage[]> => {
      try {
        const [msgs] = await this.dumpSock.socket.request(type, [body], { flags: NLM_F.DUMP });
        // replies to RTM_GET* are RTM_NEW* (= GET - 2)
        return (msgs as RawMessage[]).filter((m) => m.type === type - 2);
      } catch (err) {
        throw toKernelError(op, err);
      }
    };
    const next = this.dumpQueue.then(run, run);
    this.dumpQueue = next.catch(() => undefined);
    return next;
  }

  async linkList(): Promise<Link[]> {
    const msgs = await this.dump('link list', RTM.GETLINK, linkDumpBody());
    return msgs.map((m) => parseLink(m.data)).filter((l): l is Link => l !== undefined);
  }

  async linkAdd(spec: LinkSpec): Promise<void> {
    if (spec.kind === 'tap') {
      // /dev/net/tun opened in the namespace, then TUNSETIFF on the pool. Several at once: each
      // has its own descriptor, and on a busy host the wait for a pool thread, not the kernel's
      // ~0.15 ms, is most of a creation; overlapping the waits keeps a pass of many new ports short.
      let fd: number;
      try {
        fd = await this.tapLane.run(async () => {
          const tun = this.ns.run(() => openTun());
          await configureTap(tun, { name: spec.name, owner: spec.owner, group: spec.group, multiQueue: spec.multiQueue, vnetHdr: spec.vnetHdr });
          return tun;
        });
      } catch (err) {
        throw toKernelError(`tuntap add ${spec.name}`, err);
      }
      // detached before anything else sees the tap, so a VM can attach as soon as we resolve
      await closeTapFd(fd);
      await this.linkSetByName(spec.name, { mtu: spec.mtu, alias: spec.alias, ...attach(spec) });
      return;
    }
    const peerFd = spec.kind === 'veth' ? openNetnsFd(spec.peerNetns) : undefined;
    try {
      await this.request(`link add ${spec.name} type ${spec.kind}`, RTM.NEWLINK, linkCreateBody(spec, peerFd), NLM_F.CREATE | NLM_F.EXCL);
    } finally {
      if (peerFd !== undefined) closeSync(peerFd);
    }
    // IFLA_IFALIAS is ignored on creation by the kernel; set it in a second request.
    await this.linkSetByName(spec.name, { alias: spec.alias, ...attach(spec) });
  }

  /** RTM_NEWLINK addressed by IFLA_IFNAME (ifindex 0): no lookup round trip for new devices. */
  private async linkSetByName(name: string, change: LinkChange): Promise<void> {
    const body = Buffer.concat([linkChangeBody(0, change), strAttr(name)]);
    await this.request(`link set ${name}`, RTM.NEWLINK, body);
  }

  async linkSet(index: number, change: LinkChange): Promise<void> {
    await this.request(`link set #${index}`, RTM.NEWLINK, linkChangeBody(index, change));
  }

  async linkDel(index: number): Promise<void> {
    await this.request(`link del #${index}`, RTM.DELLINK, linkIndexBody(index));
  }

  async linkDelGroup(group: number): Promise<void> {
    await this.request(`link del group ${group}`, RTM.DELLINK, linkGroupBody(group));
  }

  async routeList(): Promise<Route[]> {
    const [v4, v6] = await Promise.all([
      this.dump('route list', RTM.GETROUTE, rtmsg({ family: AF_INET, dstLen: 0, table: 0, protocol: 0, scope: 0, type: 0 })),
      this.dump('route list', RTM.GETROUTE, rtmsg({ family: AF_INET6, dstLen: 0, table: 0, protocol: 0, scope: 0, type: 0 })),
    ]);
    return [...v4, ...v6].map((m) => parseRoute(m.data)).filter((r): r is Route => r !== undefined);
  }

  async routeReplace(route: Route): Promise<void> {
    await this.request(`route replace ${route.dst} table ${route.table}`, RTM.NEWROUTE, routeBody(route), NLM_F.CREATE | NLM_F.REPLACE);
  }

  async routeDel(route: Route): Promise<void> {
    await this.request(`route del ${route.dst} table ${route.table}`, RTM.DELROUTE, routeBody(route));
  }

  async ruleList(): Promise<Rule[]> {
    const [v4, v6] = await Promise.all([
      this.dump('rule list', RTM.GETRULE, fibRuleHdr({ family: AF_INET, table: 0, action: 0 })),
      this.dump('rule list', RTM.GETRULE, fibRuleHdr({ family: AF_INET6, table: 0, action: 0 })),
    ]);
    return [...v4, ...v6].map((m) => parseRule(m.data)).filter((r): r is Rule => r !== undefined);
  }

  async ruleAdd(rule: Rule): Promise<void> {
    await this.request(`rule add iif ${rule.iifName ?? '*'} table ${rule.table}`, RTM.NEWRULE, ruleBody(rule), NLM_F.CREATE | NLM_F.EXCL);
  }

  async ruleDel(rule: Rule): Promise<void> {
    await this.request(`rule del iif ${rule.iifName ?? '*'} table ${rule.table}`, RTM.DELRULE, ruleBody(rule));
  }

  async neighList(): Promise<Neigh[]> {
    const [plain, proxy] = await Promise.all([
      this.dump('neigh list', RTM.GETNEIGH, dumpBody(0)),
      this.dump('neigh list proxy', RTM.GETNEIGH, dumpBody(0, NTF.PROXY)),
    ]);
    return [...plain, ...proxy].map((m) => parseNeigh(m.data)).filter((n): n is Neigh => n !== undefined);
  }

  async proxyNeighList(): Promise<Neigh[]> {
    const msgs = await this.dump('neigh list proxy', RTM.GETNEIGH, dumpBody(0, NTF.PROXY));
    return msgs.map((m) => parseNeigh(m.data)).filter((n): n is Neigh => n !== undefined);
  }

  async neighReplace(neigh: Neigh): Promise<void> {
    await this.request(`neigh replace ${neigh.address}`, RTM.NEWNEIGH, neighBody(neigh), NLM_F.CREATE | NLM_F.REPLACE);
  }

  async neighDel(neigh: Neigh): Promise<void> {
    await this.request(`neigh del ${neigh.address}`, RTM.DELNEIGH, neighBody(neigh));
  }

  async fdbList(): Promise<FdbEntry[]> {
    const msgs = await this.dump('fdb list', RTM.GETNEIGH, dumpBody(AF_BRIDGE));
    return msgs.map((m) => parseFdb(m.data)).filter((e): e is FdbEntry => e !== undefined);
  }

  async fdbAppend(entry: FdbEntry): Promise<void> {
    await this.request(`fdb append ${entry.mac} dst ${entry.dst}`, RTM.NEWNEIGH, fdbBody(entry), NLM_F.CREATE | NLM_F.APPEND);
  }

  async fdbDel(entry: FdbEntry): Promise<void> {
    await this.request(`fdb del ${entry.mac} dst ${entry.dst}`, RTM.DELNEIGH, fdbBody(entry));
  }

  sysctlGet(paths: readonly string[]): Map<string, string> {
    // one namespace switch for the whole batch
    return this.ns.run(() => {
      const out = new Map<string, string>();
      for (const p of paths) {
        try {
          out.set(p, readFileSync(`/proc/sys/${p}`, 'utf8').trim());
        } catch {
          /* absent: the device does not exist (yet) */
        }
      }
      return out;
    });
  }

  sysctlSet(path: string, value: string): void {
    this.ns.run(() => writeFileSync(`/proc/sys/${path}`, value));
  }

  async announce(ifIndex: number, address: string, mac: string): Promise<void> {
    this.frames.send(ifIndex, announceFrame(address, mac));
  }

  subscribe(listener: (event: KernelEvent) => void): () => void {
    if (!this.events) {
      const deliver = (e: KernelEvent): void => {
        for (const l of this.listeners) {
          try {
            l(e);
          } catch (err) {
            log.error({ err: err instanceof Error ? err.stack : String(err) }, 'kernel event listener failed');
          }
        }
      };
      const lost: KernelEvent = { kind: 'link', deleted: false, ifIndex: undefined, lost: true };
      // A burst of changes (1,000 taps deleted) must not overflow the socket: 32 MiB, past
      // net.core.rmem_max as root. If it overflows anyway, listeners hear that events were lost
      // and read everything again; a message that does not parse counts as lost too.
      this.events = new NotificationSocket(this.ns, Object.values(RTNLGRP), 32 * 1024 * 1024, {
        message: (m) => {
          let e: KernelEvent | undefined;
          try {
            e = toEvent(m);
          } catch (err) {
            log.error({ type: m.type, err: errorMessage(err) }, 'unparsable rtnetlink notification; treating it as lost');
            e = lost;
          }
          if (e) deliver(e);
        },
        lost: () => {
          log.warn('rtnetlink notifications lost (receive buffer overflow); reading the kernel state again');
          deliver(lost);
        },
      });
    }
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0 && this.events) {
        this.events.close();
        this.events = undefined;
      }
    };
  }

  async fence(): Promise<void> {
    // A request on the notification socket itself: its reply queues behind every notification
    // already waiting there, so when it is in, they all were handed out.
    await this.events?.fence();
  }

  close(): void {
    this.events?.close();
    this.events = undefined;
    this.frames.close();
    this.slow.close();
    this.ns.close();
    this.sock.socket.close();
    this.dumpSock.socket.close();
  }
}

function strAttr(name: string): Buffer {
  const payload = Buffer.concat([Buffer.from(name), Buffer.from([0])]);
  const len = 4 + payload.length;
  const out = Buffer.alloc((len + 3) & ~3);
  out.writeUInt16LE(len, 0);
  out.writeUInt16LE(3 /* IFLA_IFNAME */, 2);
  payload.copy(out, 4);
  return out;
}

function toEvent(m: RawMessage): KernelEvent | undefined {
  const kinds: Record<number, [KernelEventKind, boolean]> = {
    16: ['link', false], 17: ['link', true],
    20: ['addr', false], 21: ['addr', true],
    24: ['route', false], 25: ['route', true],
    28: ['neigh', false], 29: ['neigh', true],
    32: ['rule', false], 33: ['rule', true],
  };
  const k = kinds[m.type];
  if (!k) return undefined;
  const [kind, deleted] = k;
  // AF_BRIDGE link messages describe bridge-port state (a DELLINK one: a port left its bridge),
  // not the device itself; the device's own AF_UNSPEC message says the same in plumb's terms.
  if (kind === 'link' && m.data.length >= 1 && m.data.readUInt8(0) === AF_BRIDGE) return undefined;
  let ifIndex: number | undefined;
  if ((kind === 'link' || kind === 'neigh' || kind === 'addr') && m.data.length >= 8) ifIndex = m.data.readInt32LE(4);
  if (kind === 'route' && m.data.length >= 12) ifIndex = readU32(parseAttrs(m.data.subarray(12)).get(RTA.OIF));
  const object = parseObject(kind, m.data);
  return object ? { kind, deleted, ifIndex, object } : { kind, deleted, ifIndex };
}

function parseObject(kind: KernelEventKind, data: Buffer): KernelObject | undefined {
  switch (kind) {
    case 'link': {
      const link = parseLink(data);
      return link && { kind: 'link', link };
    }
    case 'route': {
      const route = parseRoute(data);
      return route && { kind: 'route', route };
    }
    case 'rule': {
      const rule = parseRule(data);
      return rule && { kind: 'rule', rule };
    }
    case 'neigh': {
      if (data.length >= 1 && data.readUInt8(0) === AF_BRIDGE) {
        const fdb = parseFdb(data);
        return fdb && { kind: 'fdb', fdb };
      }
      const neigh = parseNeigh(data);
      return neigh && { kind: 'neigh', neigh };
    }
    default:
      return undefined;
  }
}

/** Open a handle bound to named namespace `netns` (or the current one). */
export async function openKernelHandle(opts: { netns?: string } = {}): Promise<KernelHandle> {
  const ns = new NetnsBinding(opts.netns);
  const [sock, dumpSock] = ns.run(() => [createRtNetlink(), createRtNetlink()]);
  // socket-level errors reject the pending requests; an unhandled 'error' event would abort
  for (const s of [sock, dumpSock]) s.socket.on('error', () => undefined);
  // large dumps (thousands of routes) must not overflow the default receive buffer
  dumpSock.socket.setRecvBufferSize(8 * 1024 * 1024);
  sock.socket.setRecvBufferSize(8 * 1024 * 1024);
  return new RtnlHandle(sock, dumpSock, ns);
}

/** The master and admin state a new device takes in its post-creation request (LinkAttach). */
function attach(spec: LinkSpec): LinkChange {
  return { ...(spec.masterIndex !== undefined ? { masterIndex: spec.masterIndex } : {}), ...(spec.up ? { up: true } : {}) };
}

/**
 * At most 4 tap creations hold pool threads at once: with the notification socket's poll and the
 * DHCP/RA sockets' receives also parked on the pool (bin/plumb.js raises it to 16 threads), there
 * is room, and RTNL serializes the kernel side anyway.
 */
const TAP_CREATIONS_AT_ONCE = 4;

/** Runs jobs with at most `limit` in flight, in arrival order. */
class Lane {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly limit: number) {}

  async run<T>(job: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running += 1;
    try {
      return await job();
    } finally {
      this.running -= 1;
      this.waiting.shift()?.();
    }
  }
}
