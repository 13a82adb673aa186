// Projects (from the config's users) and their quotas: limits from the config, the same for
// every project (-1 is unlimited, as in Neutron), and usage counted in the store.
import type { Principal } from '../auth.js';
import { NotFoundError } from '../errors.js';
import type { ServiceCore } from '../service-core.js';

export const QUOTA_RESOURCES = ['network', 'subnet', 'port', 'floatingip'] as const;
export type QuotaResource = (typeof QUOTA_RESOURCES)[number];

export interface Quotas {
  project: string;
  limit: Record<QuotaResource, number>;
  usage: Record<QuotaResource, number>;
  limits: { devices_per_network: number; nics_per_device: number };
}

export class Projects {
  constructor(private readonly core: ServiceCore) {}

  /** The projects the principal may see: all for an admin, its own otherwise. */
  list(p: Principal): string[] {
    if (!p.admin) return [p.project];
    return [...new Set([p.project, ...this.core.cfg.users.map((u) => u.project)])].sort();
  }

  /** A project the principal may see, or 404 naming it. */
  get(p: Principal, id: string): string {
    if (!this.list(p).includes(id)) throw new NotFoundError('Project', id);
    return id;
  }

  defaultQuotas(): Record<QuotaResource, number> {
    const q = this.core.cfg.quotas;
    return { network: q.networks, subnet: -1, port: q.devicesPerNetwork * q.networks, floatingip: q.floatingIps };
  }

  quotas(p: Principal, projectId: string = p.project): Promise<Quotas> {
    const project = this.get(p, projectId);
    const q = this.core.cfg.quotas;
    return this.core.store.read(async (r) => ({
      project,
      limit: this.defaultQuotas(),
      usage: { network: await r.countPrivateNetworks(project), subnet: await r.countSubnets(project), port: await r.countPorts(project), floatingip: await r.countFloatingIps(project) },
      limits: { devices_per_network: q.devicesPerNetwork, nics_per_device: q.nicsPerDevice },
    }));
  }
}
