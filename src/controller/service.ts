// The controller's resources and allocations over the store interface (store.ts), one module
// per resource (resources/*.ts) on a shared core (service-core.ts). Every create/update/delete
// is one store write unit (atomic: all of it or nothing), bumps the generation of every host
// whose desired state it changes, and notifies listeners after the commit. Requests arrive
// decoded (api/*-requests.ts); visibility and the IPAM rules live here and in the store; no SQL.
import type { ControllerConfig } from './config.js';
import type { HostChange } from '../state/controller-hooks.js';
import type { HostRow } from './rows.js';
import { now, ServiceCore } from './service-core.js';
import type { ControllerStore, SwitchesToEnd } from './store.js';
import { FloatingIps } from './resources/floating-ips.js';
import { Networks } from './resources/networks.js';
import { Ports } from './resources/ports.js';
import { Projects } from './resources/quotas.js';
import { Subnets } from './resources/subnets.js';

export { QUOTA_RESOURCES, type QuotaResource, type Quotas } from './resources/quotas.js';

export class ControllerService {
  readonly core: ServiceCore;
  readonly networks: Networks;
  readonly subnets: Subnets;
  readonly ports: Ports;
  readonly floatingIps: FloatingIps;
  readonly projects: Projects;

  private constructor(
    readonly store: ControllerStore,
    readonly cfg: ControllerConfig,
  ) {
    this.core = new ServiceCore(store, cfg);
    this.networks = new Networks(this.core);
    this.subnets = new Subnets(this.core);
    this.ports = new Ports(this.core);
    this.floatingIps = new FloatingIps(this.core, this.ports);
    this.projects = new Projects(this.core);
  }

  /** The service over `store`, with the public networks of the config created if missing. */
  static async open(store: ControllerStore, cfg: ControllerConfig): Promise<ControllerService> {
    const svc = new ControllerService(store, cfg);
    await svc.networks.ensurePublic();
    return svc;
  }

  onHostsChanged(listener: (changes: HostChange[]) => void): () => void {
    return this.core.onHostsChanged(listener);
  }

  /** Resolves once every unit submitted before it is committed (reads of committed state after it see them). */
  settled(): Promise<void> {
    return this.store.settled();
  }

  // ---------- hosts (registered by their agents' heartbeats)
  hostRows(): Promise<HostRow[]> {
    return this.store.read((r) => r.hosts());
  }

  isAlive(h: HostRow): boolean {
    return this.core.isAlive(h);
  }

  async heartbeat(host: string, underlay: string | undefined, version: string): Promise<void> {
    await this.core.mutate(async (tx, changes) => {
      const before = await tx.host(host);
      await tx.upsertHost({ id: host, underlay: underlay ?? null, version, lastSeen: now() });
      if ((before?.underlay ?? null) === (underlay ?? null)) return;
      // a new underlay address: the host's own meta, and the VXLAN remotes of every host
      // sharing a network with it
      changes.meta(host);
      for (const n of await tx.networksOfHost(host)) for (const h of await tx.hostsOfNetwork(n)) if (h !== host) changes.network(h, n);
    });
  }

  /**
   * A host's agent applied `generation`: the live-migration switches waiting on it end, and the
   * ports become their new hosts' own (published as a change of those hosts).
   */
  async applied(host: string, generation: number): Promise<void> {
    // every status report lands here: a read, not a write, when no switch waits on the host
    if (await this.store.read((r) => r.switchesWaiting(host))) await this.endSwitches({ appliedBy: host, generation });
  }

  /** Switches still waiting after `afterMs` (the old host's agent died or hangs) end regardless. */
  async activateOverdue(afterMs: number): Promise<number> {
    if (!(await this.store.read((r) => r.switchesWaiting()))) return 0;
    return this.endSwitches({ waitingSince: new Date(Date.now() - afterMs).toISOString() });
  }

  private async endSwitches(which: SwitchesToEnd): Promise<number> {
    let n = 0;
    await this.core.mutate(async (tx, changes) => {
      const ports = await tx.activatePorts(which, now());
      for (const p of ports) changes.port(p.host, p.id, p.network_id);
      n = ports.length;
    });
    return n;
  }

  async portStatus(host: string, portId: string, status: 'ACTIVE' | 'DOWN' | 'ERROR', reason: string | undefined, revision: number): Promise<void> {
    // stale reports (an older revision, or a port since moved elsewhere) are ignored
    await this.store.write((tx) => tx.setPortStatus({ host, portId: Number(portId), status, reason: reason ?? null, revision, at: now() }));
  }
}
