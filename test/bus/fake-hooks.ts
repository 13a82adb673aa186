// An in-memory ControllerHooks for bus tests (the real controller is tested in test/controller).
// Every change it announces is a whole-host change; desiredObjects picks from the document.
import type { ControllerHooks, HeartbeatReport, HostChange, HostObjects, HostSummary, NetworkDoc, PortDoc, PortStatusReport } from '../../src/state/controller-hooks.js';
import type { HostStateInput } from '../../src/state/schema.js';

export class FakeHooks implements ControllerHooks {
  states = new Map<string, HostStateInput>();
  statuses: PortStatusReport[] = [];
  heartbeats: HeartbeatReport[] = [];
  private listeners = new Set<(changes: HostChange[]) => void>();

  set(host: string, state: HostStateInput): void {
    this.states.set(host, state);
    for (const l of this.listeners) l([{ host, all: true }]);
  }
  remove(host: string): void {
    this.states.delete(host);
    for (const l of this.listeners) l([{ host, all: true }]);
  }
  onHostsChanged(listener: (changes: HostChange[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  desiredState(hostId: string): Promise<HostStateInput> {
    const s = this.states.get(hostId);
    return s ? Promise.resolve(s) : Promise.reject(new Error(`no state for ${hostId}`));
  }
  async desiredObjects(hostId: string, ids: { ports: readonly string[]; networks: readonly string[] }): Promise<HostObjects> {
    const s = await this.desiredState(hostId);
    const byId = <T>(list: T[] | undefined, id: string): T | undefined => list?.find((o) => String((o as { id: unknown }).id) === id);
    return {
      meta: { schemaVersion: s.schemaVersion, generation: s.generation ?? 0, host: s.host },
      networks: new Map(ids.networks.map((id) => [id, byId<NetworkDoc>(s.networks, id)])),
      ports: new Map(ids.ports.map((id) => [id, byId<PortDoc>(s.ports, id)])),
    };
  }
  knownHostIds(): Promise<string[]> {
    return Promise.resolve([...this.states.keys()]);
  }
  applied: { hostId: string; generation: number }[] = [];
  reportApplied(report: { hostId: string; generation: number }): void {
    this.applied.push(report);
  }
  reportPortStatus(report: PortStatusReport): void {
    this.statuses.push(report);
  }
  reportHeartbeat(report: HeartbeatReport): void {
    this.heartbeats.push(report);
  }
  hosts(): Promise<HostSummary[]> {
    return Promise.resolve([...this.states.keys()].map((id) => ({ id, alive: true })));
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
