// The controller's service-level interface to the bus (src/bus/publisher.ts): desired state per
// host out, agents' reports in.
import type { HostStateInput } from '../state/schema.js';

export type PortStatus = 'BUILD' | 'ACTIVE' | 'DOWN' | 'ERROR';
export interface PortStatusReport { hostId: string; portId: string; status: 'ACTIVE' | 'ERROR'; reason?: string; revision: number; generation: number }
export interface HeartbeatReport { hostId: string; underlayAddress?: string; version: string }
export interface HostSummary { id: string; underlayAddress?: string; alive: boolean; lastSeen?: string /* ISO */ }
export interface ControllerHooks {
  /** Called after each committed transaction that changed some hosts' desired state (deduplicated host ids). */
  onHostsChanged(listener: (hostIds: string[]) => void): () => void;
  /** Full desired state of a host (validateHostState accepts it). generation increases with every change to that host. */
  desiredState(hostId: string): HostStateInput;
  /** Every host that has or had desired state (so a publisher can also clear removed hosts). */
  knownHostIds(): string[];
  /** Agent report: BUILD -> ACTIVE / ERROR(reason) for the port if revision matches the current one (stale reports ignored). */
  reportPortStatus(report: PortStatusReport): void;
  /** Agent heartbeat: registers the host, updates its underlay address and liveness. */
  reportHeartbeat(report: HeartbeatReport): void;
  hosts(): HostSummary[];
}
