// Real-kernel topologies for port-security tests: a host namespace holding a bridge (or IP-less
// routed veths) and one namespace per VM, each VM's eth0 the peer of a host-side port.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { Netns, ipIn, sh } from '../helpers/netns.js';

export interface VmSpec {
  /** Host-side interface name (the port's ifname). */
  port: string;
  mac: string;
  ip4?: string; // address/prefix
  ip6?: string; // address/prefix
}

export interface Vm extends VmSpec {
  ns: string;
}

export function run(ns: string, cmd: string, args: string[], timeoutMs = 10_000): { ok: boolean; out: string } {
  const r = spawnSync('ip', ['netns', 'exec', ns, cmd, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

export function sysctlSet(ns: string, key: string, value: string): void {
  sh('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', `${key}=${value}`]);
}

/** A VM namespace whose eth0 is the peer of host-side `spec.port` (up, not enslaved). */
export function addVm(netns: Netns, host: string, spec: VmSpec, opts: { ipv6?: boolean } = {}): Vm {
  const ns = netns.add('pt-fv');
  sh('ip', ['-n', host, 'link', 'add', spec.port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
  if (!opts.ipv6) sysctlSet(ns, 'net.ipv6.conf.all.disable_ipv6', '1');
  else sysctlSet(ns, 'net.ipv6.conf.all.accept_dad', '0');
  // Lets a test VM send with (forge) an address it does not own, e.g. arping -s.
  sysctlSet(ns, 'net.ipv4.ip_nonlocal_bind', '1');
  ipIn(ns, 'link', 'set', 'eth0', 'address', spec.mac);
  if (spec.ip4) ipIn(ns, 'addr', 'add', spec.ip4, 'dev', 'eth0');
  if (spec.ip6) ipIn(ns, 'addr', 'add', spec.ip6, 'dev', 'eth0', 'nodad');
  ipIn(ns, 'link', 'set', 'eth0', 'up');
  ipIn(host, 'link', 'set', spec.port, 'up');
  return { ...spec, ns };
}

/** Host namespace with bridge `bridge` and one VM per spec enslaved to it. */
export function bridgedTopology(netns: Netns, bridge: string, specs: VmSpec[], opts: { ipv6?: boolean } = {}): { host: string; vms: Vm[] } {
  const host = netns.add('pt-fh');
  if (!opts.ipv6) sysctlSet(host, 'net.ipv6.conf.all.disable_ipv6', '1');
  ipIn(host, 'link', 'add', bridge, 'type', 'bridge');
  ipIn(host, 'link', 'set', bridge, 'up');
  const vms = specs.map((s) => {
    const vm = addVm(netns, host, s, opts);
    ipIn(host, 'link', 'set', s.port, 'master', bridge);
    return vm;
  });
  return { host, vms };
}

export function ping(from: string, to: string, count = 2): boolean {
  const v6 = to.includes(':');
  // busybox-static's ping: iputils is not installed on these machines.
  return run(from, 'busybox', ['ping', ...(v6 ? ['-6'] : []), '-c', String(count), '-W', '1', '-i', '0.2', to]).ok;
}

/** ping with an explicit source address (forged when it is not ours). */
export function pingFrom(from: string, source: string, to: string): boolean {
  return run(from, 'busybox', ['ping', ...(to.includes(':') ? ['-6'] : []), '-c', '2', '-W', '1', '-i', '0.2', '-I', source, to]).ok;
}

export function rxPackets(ns: string, dev: string): number {
  return Number(sh('ip', ['netns', 'exec', ns, 'cat', `/sys/class/net/${dev}/statistics/rx_packets`]).trim());
}

/** Named counter value (packets) from `nft list counter`, inside `ns`. */
export function counter(ns: string, family: string, name: string): number {
  const out = sh('ip', ['netns', 'exec', ns, 'nft', 'list', 'counter', family, 'plumb', name]);
  const m = /packets (\d+)/.exec(out);
  return m ? Number(m[1]) : NaN;
}

export function nft(ns: string, ...args: string[]): string {
  return sh('ip', ['netns', 'exec', ns, 'nft', ...args]);
}

/** A long-running process in `ns`; killed by the test via its pid. */
export function background(ns: string, cmd: string, args: string[]): ChildProcess {
  return spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

export async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** TCP connect from `from` to host:port; true when the connection is accepted. */
export function tcpConnects(from: string, hostAddr: string, port: number): boolean {
  const target = hostAddr.includes(':') ? `TCP6:[${hostAddr}]:${port}` : `TCP4:${hostAddr}:${port}`;
  return run(from, 'socat', ['-T', '1', '/dev/null', `${target},connect-timeout=1`], 5000).ok;
}

/** A socat listener answering "ok" on every connection, on IPv4 and IPv6. */
export function tcpListen(ns: string, port: number, ipv6 = true): ChildProcess {
  const listen = ipv6 ? `TCP6-LISTEN:${port},reuseaddr,fork,ipv6only=0` : `TCP4-LISTEN:${port},reuseaddr,fork`;
  return background(ns, 'socat', [listen, 'SYSTEM:echo ok']);
}

/** Poll `cond` until true or `timeoutMs` passes (links and neighbours settle asynchronously). */
export async function waitFor(cond: () => boolean, timeoutMs = 15_000): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (cond()) return true;
    if (Date.now() > end) return false;
    await sleep(100);
  }
}

/** Capture on `dev` in `ns` with a tcpdump filter; `stop()` returns how many packets matched. */
export async function capture(ns: string, dev: string, filter: string): Promise<{ stop: () => Promise<number> }> {
  const p = background(ns, 'tcpdump', ['-n', '-l', '-i', dev, filter]);
  let err = '';
  let lines = 0;
  p.stderr?.on('data', (b: Buffer) => (err += b.toString()));
  p.stdout?.on('data', (b: Buffer) => (lines += b.toString().split('\n').filter((l) => l.trim() !== '').length));
  await waitFor(() => err.includes('listening on'), 5000);
  return {
    stop: async () => {
      await sleep(100);
      const closed = new Promise<void>((r) => p.on('close', () => r()));
      p.kill('SIGINT');
      await closed;
      return lines;
    },
  };
}
