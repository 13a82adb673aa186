// The lab's namespaces and wires: a fabric namespace whose bridge joins the hosts' underlay
// NICs (the VXLAN underlay), and a router namespace whose bridge joins the hosts' public
// uplinks and holds the upstream gateway addresses. Set up with iproute2 (not a hot path).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { HOSTS, NS, PUBLIC, UNDERLAY } from './layout.js';

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

export function netnsExists(name: string): boolean {
  return existsSync(`/run/netns/${name}`);
}

function addNs(name: string): void {
  if (!netnsExists(name)) ip('netns', 'add', name);
  ip('-n', name, 'link', 'set', 'lo', 'up');
}

/** Create the lab's fixed topology (idempotent: an existing lab is left as it is). */
export function createTopology(): void {
  for (const ns of Object.values(NS)) addNs(ns);
  ip('-n', NS.fabric, 'link', 'add', 'fabric', 'type', 'bridge');
  ip('-n', NS.fabric, 'link', 'set', 'fabric', 'up');
  ip('-n', NS.router, 'link', 'add', 'pub', 'type', 'bridge');
  ip('-n', NS.router, 'link', 'set', 'pub', 'up');
  ip('-n', NS.router, 'addr', 'add', `${PUBLIC.v4.gateway}/24`, 'dev', 'pub');
  ip('-n', NS.router, '-6', 'addr', 'add', `${PUBLIC.v6.gateway}/64`, 'dev', 'pub', 'nodad');
  for (const h of HOSTS) {
    const hostNs = NS[h];
    // underlay NIC und0 (MTU 1600 so VXLAN networks keep a 1500 MTU inside)
    ip('-n', hostNs, 'link', 'add', 'und0', 'mtu', '1600', 'type', 'veth', 'peer', 'name', `und-${h}`, 'mtu', '1600', 'netns', NS.fabric);
    ip('-n', NS.fabric, 'link', 'set', `und-${h}`, 'master', 'fabric', 'up');
    ip('-n', NS.fabric, 'link', 'set', 'fabric', 'mtu', '1600');
    ip('-n', hostNs, 'addr', 'add', `${UNDERLAY[h]}/24`, 'dev', 'und0');
    ip('-n', hostNs, 'link', 'set', 'und0', 'up');
    // public uplink pub0, IP-less on the host (routed public network)
    ip('-n', hostNs, 'link', 'add', 'pub0', 'type', 'veth', 'peer', 'name', `pub-${h}`, 'netns', NS.router);
    ip('-n', NS.router, 'link', 'set', `pub-${h}`, 'master', 'pub', 'up');
    ip('-n', hostNs, 'link', 'set', 'pub0', 'up');
  }
}

/** Remove every lab namespace (and with them every device inside). */
export function destroyNamespaces(extra: string[]): string[] {
  const removed: string[] = [];
  for (const ns of [...extra, ...Object.values(NS)]) {
    if (!netnsExists(ns)) continue;
    try {
      ip('netns', 'del', ns);
      removed.push(ns);
    } catch {
      /* reported by the caller via what is left */
    }
  }
  return removed;
}
