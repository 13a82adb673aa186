// Kernel operations planned by the diff, each attributed to the plumb object it serves so a
// failure is reported against that object and skips only its own later steps.
import type { FdbEntry, Link, Neigh, Route, Rule } from '../kernel/types.js';
import type { DesiredLink, DesiredNeigh, DesiredRoute, DesiredRule } from './model.js';
import type { Owner } from './ownership.js';

export type Op =
  | { kind: 'linkDel'; link: Link; owner: Owner }
  | { kind: 'linkAdd'; link: DesiredLink; owner: Owner }
  | { kind: 'linkSet'; name: string; mtu?: number; up?: boolean; alias?: string; master?: string; group?: number; address?: string; owner: Owner }
  | { kind: 'ruleDel'; rule: Rule; owner: Owner }
  | { kind: 'ruleAdd'; rule: DesiredRule; owner: Owner }
  | { kind: 'routeDel'; route: Route; owner: Owner }
  | { kind: 'routeReplace'; route: DesiredRoute; owner: Owner }
  | { kind: 'neighDel'; neigh: Neigh; owner: Owner }
  | { kind: 'neighReplace'; neigh: DesiredNeigh; owner: Owner }
  | { kind: 'fdbDel'; entry: FdbEntry; dev: string; owner: Owner }
  | { kind: 'fdbAppend'; dev: string; mac: string; dst: string; owner: Owner }
  | { kind: 'sysctlSet'; path: string; value: string; owner: Owner }
  | { kind: 'announce'; dev: string; address: string; owner: Owner };

/**
 * Execution phases: deletes bottom-up, then creates top-down. Ops within one phase are
 * independent of each other and run concurrently.
 */
export function phaseOf(op: Op): number {
  switch (op.kind) {
    case 'ruleDel':
      return 0;
    case 'routeDel':
      return 1;
    case 'neighDel':
      return 2;
    case 'fdbDel':
      return 3;
    case 'linkDel':
      return op.link.kind === 'bridge' ? 6 : op.link.kind === 'vxlan' || op.link.kind === 'vlan' ? 5 : 4;
    case 'linkAdd':
      return op.link.kind === 'bridge' ? 7 : op.link.kind === 'vxlan' || op.link.kind === 'vlan' ? 8 : 9;
    case 'linkSet':
      // leaving plumb's deletion group happens before the deletions, which check that group
      return op.group !== undefined ? 3 : 10;
    case 'sysctlSet':
      return 11;
    case 'fdbAppend':
      return 12;
    case 'neighReplace':
      return 13;
    case 'routeReplace':
      // on-link routes first: a route via a gateway needs the gateway to be reachable
      return op.route.gateway === undefined ? 14 : 15;
    case 'ruleAdd':
      return 16;
    case 'announce':
      return 17;
  }
}

export const LAST_PHASE = 17;

/** One line per op in iproute2 terms, for `plumb agent plan` and logs. */
export function describeOp(op: Op): string {
  switch (op.kind) {
    case 'linkDel':
      return `ip link del ${op.link.name}`;
    case 'linkAdd': {
      const l = op.link;
      const base = `ip link add ${l.name} mtu ${l.mtu}`;
      switch (l.kind) {
        case 'bridge':
          return `${base} type bridge`;
        case 'vxlan':
          return `${base} type vxlan id ${l.vni} local ${l.local}${l.underlay ? ` dev ${l.underlay}` : ''} dstport ${l.port} nolearning`;
        case 'vlan':
          return `${base} link ${l.parent} type vlan id ${l.vid}`;
        case 'veth':
          return `${base} type veth peer name ${l.peerName} address ${l.peerMac} netns ${l.peerNetns}`;
        case 'tap':
          return `ip tuntap add ${l.name} mode tap${l.uid !== undefined ? ` user ${l.uid}` : ''}${l.gid !== undefined ? ` group ${l.gid}` : ''}${l.vnetHdr ? ' vnet_hdr' : ''}${l.multiQueue ? ' multi_queue' : ''}`;
      }
      break;
    }
    case 'linkSet': {
      const parts = [`ip link set ${op.name}`];
      if (op.mtu !== undefined) parts.push(`mtu ${op.mtu}`);
      if (op.address !== undefined) parts.push(`address ${op.address}`);
      if (op.alias !== undefined) parts.push(op.alias === '' ? 'alias ""' : `alias ${op.alias}`);
      if (op.master !== undefined) parts.push(op.master === '' ? 'nomaster' : `master ${op.master}`);
      if (op.group !== undefined) parts.push(`group ${op.group === 0 ? 'default' : op.group}`);
      if (op.up !== undefined) parts.push(op.up ? 'up' : 'down');
      return parts.join(' ');
    }
    case 'ruleDel':
      return `ip -${op.rule.family} rule del priority ${op.rule.priority} iif ${op.rule.iifName ?? '?'} table ${op.rule.table}`;
    case 'ruleAdd':
      return `ip -${op.rule.family} rule add iif ${op.rule.iifName} table ${op.rule.table}`;
    case 'routeDel':
      return `ip -${op.route.family} route del ${op.route.dst} table ${op.route.table}`;
    case 'routeReplace': {
      const r = op.route;
      return `ip -${r.family} route replace ${r.dst}${r.gateway ? ` via ${r.gateway}` : ''} dev ${r.dev} table ${r.table}${r.scope === 'link' ? ' scope link' : ''}`;
    }
    case 'neighDel':
      return `ip -${op.neigh.family} neigh del ${op.neigh.proxy ? 'proxy ' : ''}${op.neigh.address} dev #${op.neigh.ifIndex}`;
    case 'neighReplace': {
      const n = op.neigh;
      return n.proxy ? `ip -${n.family} neigh add proxy ${n.address} dev ${n.dev}` : `ip -${n.family} neigh replace ${n.address} lladdr ${n.lladdr ?? ''} dev ${n.dev} nud permanent`;
    }
    case 'fdbDel':
      return `bridge fdb del ${op.entry.mac} dev ${op.dev} dst ${op.entry.dst} self`;
    case 'fdbAppend':
      return `bridge fdb append ${op.mac} dev ${op.dev} dst ${op.dst} self permanent`;
    case 'sysctlSet':
      return `sysctl -w ${op.path.replaceAll('/', '.')}=${op.value}`;
    case 'announce':
      return `arping -U ${op.address} (dev ${op.dev})`;
  }
}
