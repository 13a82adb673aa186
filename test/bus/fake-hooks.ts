// An in-memory ControllerHooks for bus tests (the real controller is tested in test/controller).
import type { ControllerHooks, HeartbeatReport, HostSummary, PortStatusReport } from '../../src/controller/hooks.js';
import type { HostStateInput } from '../../src/state/schema.js';

export class FakeHooks implements ControllerHooks {
  states = new Map<string, HostStateInput>();
  statuses: PortStatusReport[] = [];
  heartbeats: HeartbeatReport[] = [];
  private listeners = new Set<(hosts: string[]) => void>();

  set(host: string, state: HostStateInput): void {
    this.states.set(host, state);
    for (const l of this.listeners) l([host]);
  }
  remove(host: string): void {
    this.states.delete(host);
    for (const l of this.listeners) l([host]);
  }
  onHostsChanged(listener: (hostIds: string[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  desiredState(hostId: string): HostStateInput {
    const s = this.states.get(hostId);
    if (!s) throw new Error(`no state for ${hostId}`);
    return s;
  }
  knownHostIds(): string[] {
    return [...this.states.keys()];
  }
  reportPortStatus(report: PortStatusReport): void {
    this.statuses.push(report);
  }
  reportHeartbeat(report: HeartbeatReport): void {
    this.heartbeats.push(report);
  }
  hosts(): HostSummary[] {
    return [...this.states.keys()].map((id) => ({ id, alive: true }));
  }
}

export function hostDoc(host: string, generation: number, ports: { id: string; mac: string }[]): HostStateInput {
  return {
    schemaVersion: 1,
    generation,
    host: { name: host },
    networks: [{ id: 'n1', type: 'MAC_FILTERED', macPrefix: 'aa:00:01' }],
    ports: ports.map((p) => ({ ...p, network: 'n1' })),
  } as HostStateInput;
}
