// The controller's service-level interface to the bus (src/bus/publisher.ts): desired state per
// host out, agents' reports in. Reads are asynchronous: they go through the store interface, so
// a store on another machine (PostgreSQL) can serve them too.
import type { HostStateInput } from '../state/schema.js';

export type PortStatus = 'BUILD' | 'ACTIVE' | 'DOWN' | 'ERROR';
export interface PortStatusReport { hostId: string; portId: string; status: 'ACTIVE' | 'DOWN' | 'ERROR'; reason?: string; revision: number; generation: number }
export interface HeartbeatReport { hostId: string; underlayAddress?: string; version: string }
export interface HostSummary { id: string; underlayAddress?: string; alive: boolean; lastSeen?: string /* ISO */ }

/**
 * What one committed change did to a host's desired state. `all`: anything may differ (rebuild
 * the whole document). Otherwise only the host's meta (its generation) and the listed ports and
 * networks may differ; a listed object may also have left the host.
 */
export type HostChange = { host: string; all: true } | { host: string; all?: false; ports: readonly string[]; networks: readonly string[] };

type Doc = HostStateInput;
export type NetworkDoc = NonNullable<Doc['networks']>[number];
export type PortDoc = NonNullable<Doc['ports']>[number];
export type HostMetaDoc = Pick<Doc, 'schemaVersion' | 'generation' | 'host'>;

/** Part of a host's desired state: the meta, and the named objects (undefined: not on the host). */
export interface HostObjects {
  meta: HostMetaDoc;
  networks: Map<string, NetworkDoc | undefined>;
  ports: Map<string, PortDoc | undefined>;
}

export interface ControllerHooks {
  /** Called after each committed transaction that changed some hosts' desired state (one entry per host). */
  onHostsChanged(listener: (changes: HostChange[]) => void): () => void;
  /** Full desired state of a host (validateHostState accepts it). generation increases with every change to that host. */
  desiredState(hostId: string): Promise<HostStateInput>;
  /** The meta and the named objects of a host's desired state, as desiredState would give them. */
  desiredObjects(hostId: string, ids: { ports: readonly string[]; networks: readonly string[] }): Promise<HostObjects>;
  /** Every host that has or had desired state (so a publisher can also clear removed hosts). */
  knownHostIds(): Promise<string[]>;
  /** Agent report: BUILD -> ACTIVE / ERROR(reason) for the port if revision matches the current one (stale reports ignored). */
  reportPortStatus(report: PortStatusReport): void;
  /** Agent report: the host applied this generation of its desired state (live-migration switches wait on it). */
  reportApplied(report: { hostId: string; generation: number }): void;
  /** Agent heartbeat: registers the host, updates its underlay address and liveness. */
  reportHeartbeat(report: HeartbeatReport): void;
  hosts(): Promise<HostSummary[]>;
}
