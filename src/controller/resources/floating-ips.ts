// Floating IPs: addresses of a public network reserved by a project, attached to a device as a
// port on the public network that carries the address (as in the seeds), on the device's host.
import type { Principal } from '../auth.js';
import type { AttachFloatingIpRequest, CreateFloatingIpRequest, UpdateFloatingIpRequest } from '../api/floating-ip-requests.js';
import { BadRequestError, IpAddressInUseError, NotFoundError, OverQuotaError, PoolExhaustedError } from '../errors.js';
import type { HostChanges } from '../host-changes.js';
import type { FloatingIpRow } from '../rows.js';
import { now, type Body, type ServiceCore } from '../service-core.js';
import type { StoreTx } from '../store.js';
import { requireBinder } from '../policy.js';
import type { Ports } from './ports.js';

export class FloatingIps {
  constructor(
    private readonly core: ServiceCore,
    private readonly ports: Ports,
  ) {}

  list(p: Principal): Promise<Body[]> {
    return this.core.store.read(async (r) => Promise.all((await r.floatingIps(p.admin ? undefined : p.project)).map((f) => this.core.fipBody(r, f))));
  }

  get(p: Principal, id: string): Promise<Body> {
    return this.core.store.read(async (r) => this.core.fipBody(r, await this.core.fip(r, p, id)));
  }

  /** Allocates a floating IP (and attaches it to port_id's device when given), all or nothing. */
  create(p: Principal, req: CreateFloatingIpRequest): Promise<Body> {
    return this.core.mutate(async (tx, changes) => {
      const netId = req.networkId ?? String((await tx.firstPublicNetwork())?.id ?? '');
      const n = await this.core.network(tx, p, netId);
      if (n.public !== 1) throw new BadRequestError('floating_network_id', `network ${netId} is not a public network`);
      const quota = this.core.cfg.quotas.floatingIps;
      const count = await tx.countFloatingIps(p.project);
      if (count >= quota) throw new OverQuotaError('Floating IP address', quota - count);
      const subnets = await tx.subnetsOf(n.id);
      const s = subnets.find((x) => x.ip_version === 4) ?? subnets[0];
      if (!s) throw new PoolExhaustedError(`network ${n.id} has no subnet`);
      const ip = await tx.firstFreeAddress(s);
      if (!ip) throw new PoolExhaustedError(`No more IP addresses available on network ${n.id}`);
      const id = await tx.insertFloatingIp({ project: p.project, networkId: n.id, subnetId: s.id, ip, at: now() });
      const f = await this.core.fip(tx, p, String(id));
      if (req.portId === undefined) return this.core.fipBody(tx, f);
      const target = await this.core.port(tx, p, req.portId);
      return this.attachTo(tx, changes, p, f, target.device_id, target.host);
    });
  }

  /** Attach (port_id: a port of the device) or detach (port_id: null). */
  update(p: Principal, id: string, req: UpdateFloatingIpRequest): Promise<Body> {
    return this.core.mutate(async (tx, changes) => {
      const f = await this.core.fip(tx, p, id);
      if (req.portId === null) {
        const attached = f.port_id === null ? undefined : await tx.port(f.port_id);
        // detached by name, it stays the project's, even one a port took without reservation
        await tx.setFloatingIpPort(f.id, null);
        if (attached) await this.ports.remove(tx, changes, attached);
        return this.core.fipBody(tx, await this.core.fip(tx, p, id));
      }
      const target = await this.core.port(tx, p, req.portId);
      return this.attachTo(tx, changes, p, f, target.device_id, target.host);
    });
  }

  /** plumb's own: attach to a device, on the device's host unless `host` is given. */
  attach(p: Principal, id: string, req: AttachFloatingIpRequest): Promise<Body> {
    if (req.host !== undefined) requireBinder(p, 'host', 'attach_floatingip');
    return this.core.mutate(async (tx, changes) => {
      const f = await this.core.fip(tx, p, id);
      // the device is the floating IP's project's: another project's device of that name is not it
      const host = req.host ?? (await tx.deviceHost(req.device_id, f.project));
      return this.attachTo(tx, changes, p, f, req.device_id, host);
    });
  }

  private async attachTo(tx: StoreTx, changes: HostChanges, p: Principal, f: FloatingIpRow, deviceId: string, host: string | null): Promise<Body> {
    if (f.port_id !== null) throw new IpAddressInUseError(f.ip);
    if (!deviceId) throw new BadRequestError('device_id', 'the floating IP needs a device to attach to');
    const n = await tx.network(f.network_id);
    if (!n) throw new NotFoundError('Network', String(f.network_id));
    const joined = await this.core.joinsVxlan(tx, n, host);
    const created = await this.ports.insert(tx, { project: f.project, admin: p.admin }, n, { deviceId, host, fixedIps: [{ ip_address: f.ip }], profile: {}, firewall: 'DISABLED' });
    await this.core.portAdded(tx, changes, n, host, created.row.id, joined);
    const after = await tx.floatingIp(f.id);
    if (!after) throw new NotFoundError('Floating IP', String(f.id));
    return this.core.fipBody(tx, after);
  }

  async delete(p: Principal, id: string): Promise<void> {
    await this.core.mutate(async (tx, changes) => {
      const f = await this.core.fip(tx, p, id);
      const attached = f.port_id === null ? undefined : await tx.port(f.port_id);
      if (attached) await this.ports.remove(tx, changes, attached);
      await tx.deleteFloatingIp(f.id);
    });
  }
}
