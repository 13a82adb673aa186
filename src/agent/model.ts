// The desired kernel objects of a host, by name (ifindexes are only known once observed).
// Built purely from the validated desired state (desired.ts); compared with what the kernel
// holds (observe.ts) by the pure diff (diff.ts).
import type { Family } from '../kernel/types.js';
import type { Owner } from './ownership.js';

interface DesiredLinkCommon {
  name: string;
  owner: Owner;
  mtu: number;
  /** Bridge to enslave to; undefined = not a bridge port. */
  master: string | undefined;
  /** A fixed MAC for the device (routed ports: see names.ts hostSideMac); undefined = the kernel's. */
  mac?: string;
  /** Addresses to announce on the device when its MAC changes (the VM's gateways). */
  announceOnMacChange?: string[];
}

export type DesiredLink = DesiredLinkCommon &
  (
    | { kind: 'bridge' }
    | { kind: 'vxlan'; vni: number; local: string; underlay: string | undefined; port: number }
    | { kind: 'vlan'; parent: string; vid: number }
    | { kind: 'tap'; owner: Extract<Owner, { kind: 'port' }>; uid: number | undefined; gid: number | undefined; multiQueue: boolean; vnetHdr: boolean; adopt: boolean }
    | { kind: 'veth'; peerMac: string; peerName: string; peerNetns: string }
  );

/** A device plumb does not own but must enslave (a MAC_FILTERED physical uplink). */
export interface DesiredEnslavement {
  name: string;
  master: string;
  owner: Owner;
}

export interface DesiredRoute {
  family: Family;
  dst: string;
  table: number;
  dev: string;
  gateway: string | undefined;
  scope: 'universe' | 'link';
  owner: Owner;
}

export interface DesiredRule {
  family: Family;
  iifName: string;
  table: number;
  owner: Owner;
}

export interface DesiredNeigh {
  family: Family;
  dev: string;
  address: string;
  /** Permanent entries carry the VM's MAC; proxy entries none. */
  lladdr: string | undefined;
  proxy: boolean;
  owner: Owner;
  /** Announce (gratuitous ARP / unsolicited NA) when this entry is newly created. */
  announce: boolean;
}

export interface DesiredFdb {
  dev: string;
  mac: string;
  dst: string;
  owner: Owner;
}

export interface DesiredSysctl {
  path: string;
  value: string;
  owner: Owner;
}

/** A configuration problem found while building the model (e.g. an uplink that does not exist). */
export interface ModelProblem {
  owner: Owner;
  reason: string;
}

export interface DesiredKernel {
  links: DesiredLink[];
  enslavements: DesiredEnslavement[];
  routes: DesiredRoute[];
  rules: DesiredRule[];
  neighs: DesiredNeigh[];
  fdb: DesiredFdb[];
  sysctls: DesiredSysctl[];
  /** Uplinks of routed networks: plumb owns proxy entries there for addresses in these subnets. */
  proxyScopes: { dev: string; cidrs: string[] }[];
  problems: ModelProblem[];
  /** Ports waiting on someone else (an adopted tap the VM manager has not created yet): DOWN, not ERROR. */
  pending: ModelProblem[];
}
