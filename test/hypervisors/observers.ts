// Background observers for the migration drill, each a real tool in a test namespace: ping
// (iputils, timestamped replies), `ip -ts monitor route` and tcpdump. Each collects its output
// lines and is stopped by pid; the parsers turn them into the drill's numbers.
import { spawn, type ChildProcess } from 'node:child_process';
import { ipIn } from '../helpers/netns.js';

export class Observer {
  readonly lines: string[] = [];
  private buf = '';
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;

  constructor(netns: string, cmd: string, args: string[]) {
    this.child = spawn('ip', ['netns', 'exec', netns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const take = (d: Buffer): void => {
      this.buf += d.toString();
      let i: number;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        this.lines.push(this.buf.slice(0, i));
        this.buf = this.buf.slice(i + 1);
      }
    };
    this.child.stdout?.on('data', take);
    this.child.stderr?.on('data', take);
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
  }

  /** SIGINT (ping prints its summary), then SIGKILL if it lingers. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGINT');
    const t = setTimeout(() => this.child.kill('SIGKILL'), 3_000);
    await this.exited;
    clearTimeout(t);
    if (this.buf) this.lines.push(this.buf);
  }
}

export interface PingStats {
  transmitted: number;
  received: number;
  /** replies missing (the last few sent, still in flight when ping stopped, not counted) */
  lost: number;
  /** the longest run of consecutive missing replies */
  longestGap: number;
  /** epoch ms of each reply, by icmp_seq */
  replies: Map<number, number>;
}

/** Requests sent in the last moment before ping stopped: in flight, neither answered nor lost. */
const IN_FLIGHT = 5;

/** `ping -D` output: `[1733570000.123456] 64 bytes from …: icmp_seq=12 ttl=63 time=0.9 ms`, and its summary. */
export function pingStats(lines: readonly string[]): PingStats {
  const replies = new Map<number, number>();
  for (const l of lines) {
    const m = /^\[(\d+\.\d+)\] \d+ bytes from .*icmp_seq=(\d+)/.exec(l);
    if (m) replies.set(Number(m[2]), Math.round(Number(m[1]) * 1000));
  }
  const summary = lines.map((l) => /(\d+) packets transmitted, (\d+) received/.exec(l)).find((m) => m);
  const transmitted = Number(summary?.[1] ?? Math.max(0, ...replies.keys()));
  let lost = 0;
  let run = 0;
  let longestGap = 0;
  for (let s = 1; s <= transmitted - IN_FLIGHT; s++) {
    if (replies.has(s)) {
      run = 0;
      continue;
    }
    lost += 1;
    longestGap = Math.max(longestGap, ++run);
  }
  return { transmitted, received: Number(summary?.[2] ?? replies.size), lost, longestGap, replies };
}

/**
 * Intervals (epoch ms) during which a host had a route to `address` in any table, from
 * `ip -ts monitor route link` lines, starting from the routes it held when the monitor started.
 * Routes are `[2026-12-07T12:00:00.123456] [Deleted ]198.51.100.10 dev tap2 [table 100 ]…`;
 * IPv4 routes on a deleted device go without a route event, so `Deleted 7: tap2: …` ends them.
 */
export function routeIntervals(lines: readonly string[], address: string, initial: readonly { table: string; dev: string }[], until: number): [number, number][] {
  const routes = new Map(initial.map((r) => [r.table, r.dev]));
  const out: [number, number][] = [];
  let since: number | undefined = routes.size > 0 ? 0 : undefined;
  for (const l of lines) {
    const ts = /^\[([\d-]+T[\d:.]+)\] (.*)$/.exec(l);
    if (!ts?.[1] || ts[2] === undefined) continue;
    const at = Date.parse(`${ts[1]}Z`);
    const body = ts[2];
    const gone = /^Deleted \d+: ([^:@]+)[:@]/.exec(body);
    const route = /^(Deleted )?(\S+) dev (\S+)/.exec(body);
    if (gone?.[1]) {
      for (const [t, dev] of routes) if (dev === gone[1]) routes.delete(t);
    } else if (route && route[2] === address && route[3]) {
      const table = /table (\S+)/.exec(body)?.[1] ?? 'main';
      if (route[1]) routes.delete(table);
      else routes.set(table, route[3]);
    } else {
      continue;
    }
    if (routes.size > 0 && since === undefined) since = at;
    if (routes.size === 0 && since !== undefined) {
      out.push([since, at]);
      since = undefined;
    }
  }
  if (since !== undefined) out.push([since, until]);
  return out;
}

/** Total overlap (ms) of two interval lists. */
export function overlapMs(a: readonly [number, number][], b: readonly [number, number][]): number {
  let total = 0;
  for (const [a0, a1] of a) for (const [b0, b1] of b) total += Math.max(0, Math.min(a1, b1) - Math.max(a0, b0));
  return total;
}

/**
 * DHCP server replies by transaction id, from `tcpdump -tt -n -v` lines; with -v the IP header
 * line carries the time and the next one `… BOOTP/DHCP, Reply, length 300, xid 0x1a2b3c4d, …`.
 */
export function dhcpReplies(lines: readonly string[]): { xid: string; at: number }[] {
  const out: { xid: string; at: number }[] = [];
  let at = 0;
  for (const l of lines) {
    const t = /^(\d+\.\d+) /.exec(l);
    if (t?.[1]) at = Math.round(Number(t[1]) * 1000);
    const m = /BOOTP\/DHCP, Reply, .*xid (0x[0-9a-f]+)/.exec(l);
    if (m?.[1]) out.push({ xid: m[1], at });
  }
  return out;
}

/** The routes a host holds to `address` in any table, as routeIntervals takes them to start from. */
export function routesTo(ns: string, address: string): { table: string; dev: string }[] {
  return ipIn(ns, 'route', 'show', 'table', 'all', address)
    .split('\n')
    .filter(Boolean)
    .map((l) => ({ table: /table (\S+)/.exec(l)?.[1] ?? 'main', dev: /dev (\S+)/.exec(l)?.[1] ?? '' }));
}

export interface HostReply {
  xid: string;
  at: number;
  host: string;
}

/** Every host's DHCP replies (tcpdump observers by host name), and the xids more than one host answered. */
export function dhcpRepliesByHost(dumps: Record<string, Observer>): { replies: HostReply[]; answeredByTwo: [string, string[]][] } {
  const replies = Object.entries(dumps).flatMap(([host, o]) => dhcpReplies(o.lines).map((r) => ({ ...r, host })));
  const hostsByXid = new Map<string, Set<string>>();
  for (const r of replies) hostsByXid.set(r.xid, (hostsByXid.get(r.xid) ?? new Set()).add(r.host));
  return { replies, answeredByTwo: [...hostsByXid.entries()].filter(([, h]) => h.size > 1).map(([x, h]) => [x, [...h]]) };
}
