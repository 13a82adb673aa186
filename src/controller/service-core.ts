// What every resource of the service shares: the store, the config, write units that record
// which hosts' desired state they changed (and tell listeners after the commit), visibility of
// objects to a principal, and their API views. The resources (resources/*.ts) build on it.
import type { Principal } from './auth.js';
import type { ControllerConfig } from './config.js';
import { HostChanges } from './host-changes.js';
import type { HostChange } from '../state/controller-hooks.js';
import { NotFoundError } from './errors.js';
import type { FloatingIpRow, HostRow, NetworkRow, PortRow, SubnetRow } from './rows.js';
import { floatingIpView, networkView, portView } from './rows.js';
import type { ControllerStore, StoreReader, StoreTx } from './store.js';
import { seesAllPorts } from './policy.js';

export type Body = Record<string, unknown>;
export const now = (): string => new Date().toISOString();

/** plumb's ids are decimal; anything else names no object. */
const asId = (id: string): number | undefined => (/^\d{1,15}$/.test(id) ? Number(id) : undefined);

export class ServiceCore {
  private readonly listeners = new Set<(changes: HostChange[]) => void>();

  constructor(
    readonly store: ControllerStore,
    readonly cfg: ControllerConfig,
  ) {}

  onHostsChanged(listener: (changes: HostChange[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The host's agent sent a heartbeat recently enough. */
  isAlive(h: HostRow): boolean {
    return !!h.last_seen && Date.now() - Date.parse(h.last_seen) < this.cfg.heartbeatTimeoutSeconds * 1000;
  }

  /**
   * One write unit; fn records what it changed in hosts' desired state; their generations are
   * bumped in the same unit and listeners told after the commit.
   */
  async mutate<T>(fn: (tx: StoreTx, changes: HostChanges) => Promise<T>): Promise<T> {
    let changes = new HostChanges();
    const result = await this.store.write(async (tx) => {
      changes = new HostChanges(); // a unit may be run again: only the last run counts
      const r = await fn(tx, changes);
      const hosts = changes.hosts();
      if (hosts.length) {
        await tx.bumpGenerations(hosts);
        await tx.announce(changes.list());
      }
      return r;
    });
    const list = changes.list();
    if (list.length) for (const l of this.listeners) l(list);
    return result;
  }

  // ---------- visibility: an object the principal may not see is not found, like a missing one
  async network(r: StoreReader, p: Principal, id: string): Promise<NetworkRow> {
    const n = asId(id) === undefined ? undefined : await r.network(Number(id));
    if (!n || (!p.admin && n.public === 0 && n.project !== p.project)) throw new NotFoundError('Network', id);
    return n;
  }

  async port(r: StoreReader, p: Principal, id: string): Promise<PortRow> {
    const row = asId(id) === undefined ? undefined : await r.port(Number(id));
    if (!row || (!seesAllPorts(p) && row.project !== p.project)) throw new NotFoundError('Port', id);
    return row;
  }

  async fip(r: StoreReader, p: Principal, id: string): Promise<FloatingIpRow> {
    const f = asId(id) === undefined ? undefined : await r.floatingIp(Number(id));
    if (!f || (!p.admin && f.project !== p.project)) throw new NotFoundError('Floating IP', id);
    return f;
  }

  /** A subnet the principal may see (that of a network it may see), with its network. */
  async subnet(r: StoreReader, p: Principal, id: string): Promise<{ s: SubnetRow; n: NetworkRow }> {
    const s = asId(id) === undefined ? undefined : await r.subnet(Number(id));
    const n = s ? await r.network(s.network_id) : undefined;
    if (!s || !n || (!p.admin && n.public === 0 && n.project !== p.project)) throw new NotFoundError('Subnet', id);
    return { s, n };
  }

  // ---------- views
  async networkBody(r: StoreReader, n: NetworkRow): Promise<Body> {
    return networkView(n, (await r.subnetsOf(n.id)).map((s) => s.id));
  }

  async portBody(r: StoreReader, row: PortRow): Promise<Body> {
    return portView(row, await r.fixedIps(row.id));
  }

  async fipBody(r: StoreReader, f: FloatingIpRow): Promise<Body> {
    const port = f.port_id === null ? undefined : await r.port(f.port_id);
    return floatingIpView(f, port ? f.ip : undefined, port?.device_id);
  }

  // ---------- VXLAN membership: a network's object on each host lists the other hosts' VTEPs
  /** When `host` joins or leaves a VXLAN network, its object changes on every other member host. */
  async vtepsChanged(tx: StoreTx, changes: HostChanges, networkId: number, host: string): Promise<void> {
    for (const h of await tx.hostsOfNetwork(networkId)) if (h !== host) changes.network(h, networkId);
  }

  /** Whether adding a port of network `n` on `host` makes the host join a VXLAN network. */
  async joinsVxlan(tx: StoreTx, n: NetworkRow, host: string | null): Promise<boolean> {
    return n.type === 'VXLAN' && host !== null && !(await tx.hostHasPortOn(host, n.id));
  }

  /** Record a port that appeared on (or changed on) `host`. */
  async portAdded(tx: StoreTx, changes: HostChanges, n: NetworkRow, host: string | null, portId: number, joined: boolean): Promise<void> {
    changes.port(host, portId, n.id);
    if (joined && host) await this.vtepsChanged(tx, changes, n.id, host);
  }

  /** Record a port that left `host` (deleted or moved); call after the change. */
  async portLeft(tx: StoreTx, changes: HostChanges, r: PortRow): Promise<void> {
    changes.port(r.host, r.id, r.network_id);
    if (!r.host || (await tx.hostHasPortOn(r.host, r.network_id))) return;
    if ((await tx.network(r.network_id))?.type === 'VXLAN') await this.vtepsChanged(tx, changes, r.network_id, r.host);
  }
}
