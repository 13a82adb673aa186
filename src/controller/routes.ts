// The API's routes: Neutron v2.0 resources, quotas, the identity-shaped project lookups the
// openstack CLI makes, and plumb's own. Each body is decoded (api/*-requests.ts) before the
// service sees it; ids arrive percent-decoded from the server (http.ts).
import type { Principal } from './auth.js';
import { decode, decodeWrapped } from './api/decode.js';
import { attachFloatingIpRequest, createFloatingIpRequest, updateFloatingIpRequest } from './api/floating-ip-requests.js';
import { createNetworkRequest } from './api/network-requests.js';
import { createPortRequest, updatePortRequest } from './api/port-requests.js';
import { createSubnetRequest, updateSubnetRequest } from './api/subnet-requests.js';
import { requireAdmin } from './policy.js';
import type { ControllerHooks } from '../state/controller-hooks.js';
import { QUOTA_RESOURCES, type ControllerService } from './service.js';

type Body = Record<string, unknown>;
export interface RequestContext {
  p: Principal;
  /** the path's {id} segments, percent-decoded */
  params: string[];
  query: URLSearchParams;
  /** the parsed JSON body (POST and PUT), not yet decoded */
  body: unknown;
}
type Handler = (ctx: RequestContext) => unknown; // may return a promise

export interface Route {
  method: string;
  pattern: RegExp;
  handler: Handler;
}

function projectView(id: string): Body {
  return { id, name: id, domain_id: 'default', enabled: true, description: '', is_domain: false, parent_id: 'default', links: {} };
}

const id0 = (params: string[]): string => params[0] as string;

export function routes(svc: ControllerService, hooks: ControllerHooks, base: () => string): Route[] {
  const r = (method: string, path: string, handler: Handler): Route => ({ method, pattern: new RegExp(`^${path.replace(/\{id\}/g, '([^/]+)')}/?$`), handler });
  const { networks, subnets, ports, floatingIps, projects } = svc;
  return [
    r('GET', '', () => ({ versions: [{ id: 'v2.0', status: 'CURRENT', links: [{ href: `${base()}/v2.0/`, rel: 'self' }] }] })),
    r('GET', '/v2.0', () => ({ resources: ['network', 'subnet', 'port', 'floatingip', 'quota', 'agent'].map((n) => ({ name: n, collection: `${n}s`, links: [{ href: `${base()}/v2.0/${n}s`, rel: 'self' }] })) })),
    r('GET', '/v2.0/extensions', () => ({ extensions: [] })),
    // networks
    r('GET', '/v2.0/networks', async ({ p }) => ({ networks: await networks.list(p) })),
    r('POST', '/v2.0/networks', async ({ p, body }) => ({ network: await networks.create(p, decodeWrapped(createNetworkRequest, body, 'network')) })),
    r('GET', '/v2.0/networks/{id}', async ({ p, params }) => ({ network: await networks.get(p, id0(params)) })),
    r('DELETE', '/v2.0/networks/{id}', ({ p, params }) => networks.delete(p, id0(params))),
    // subnets
    r('GET', '/v2.0/subnets', async ({ p }) => ({ subnets: await subnets.list(p) })),
    r('POST', '/v2.0/subnets', async ({ p, body }) => ({ subnet: await subnets.create(p, decodeWrapped(createSubnetRequest, body, 'subnet')) })),
    r('GET', '/v2.0/subnets/{id}', async ({ p, params }) => ({ subnet: await subnets.get(p, id0(params)) })),
    r('PUT', '/v2.0/subnets/{id}', async ({ p, params, body }) => ({ subnet: await subnets.update(p, id0(params), decodeWrapped(updateSubnetRequest, body, 'subnet')) })),
    r('DELETE', '/v2.0/subnets/{id}', ({ p, params }) => subnets.delete(p, id0(params))),
    // ports
    r('GET', '/v2.0/ports', async ({ p, query }) => ({ ports: await ports.list(p, { ...(query.get('device_id') ? { device_id: query.get('device_id') as string } : {}), ...(query.get('network_id') ? { network_id: query.get('network_id') as string } : {}), ...(query.get('mac_address') ? { mac_address: query.get('mac_address') as string } : {}), ...(query.get('binding:host_id') ? { host: query.get('binding:host_id') as string } : {}) }) })),
    r('POST', '/v2.0/ports', async ({ p, body }) => ({ port: await ports.create(p, decodeWrapped(createPortRequest, body, 'port')) })),
    r('GET', '/v2.0/ports/{id}', async ({ p, params }) => ({ port: await ports.get(p, id0(params)) })),
    r('PUT', '/v2.0/ports/{id}', async ({ p, params, body }) => ({ port: await ports.update(p, id0(params), decodeWrapped(updatePortRequest, body, 'port')) })),
    r('DELETE', '/v2.0/ports/{id}', ({ p, params }) => ports.delete(p, id0(params))),
    // floating IPs
    r('GET', '/v2.0/floatingips', async ({ p }) => ({ floatingips: await floatingIps.list(p) })),
    r('POST', '/v2.0/floatingips', async ({ p, body }) => ({ floatingip: await floatingIps.create(p, decodeWrapped(createFloatingIpRequest, body, 'floatingip')) })),
    r('GET', '/v2.0/floatingips/{id}', async ({ p, params }) => ({ floatingip: await floatingIps.get(p, id0(params)) })),
    r('PUT', '/v2.0/floatingips/{id}', async ({ p, params, body }) => ({ floatingip: await floatingIps.update(p, id0(params), decodeWrapped(updateFloatingIpRequest, body, 'floatingip')) })),
    r('DELETE', '/v2.0/floatingips/{id}', ({ p, params }) => floatingIps.delete(p, id0(params))),
    // plumb's own: attach a floating IP to a device (kamaki's `ip attach IP --server-id D`)
    r('POST', '/v2.0/floatingips/{id}/attach', async ({ p, params, body }) => ({ floatingip: await floatingIps.attach(p, id0(params), decode(attachFloatingIpRequest, body)) })),
    // Neutron quotas (limits are the config's, the same for every project; -1 is unlimited)
    r('GET', '/v2.0/quotas', async ({ p }) => {
      const q = await projects.quotas(p);
      return { quotas: [{ project_id: q.project, tenant_id: q.project, ...q.limit, usage: q.usage, limits: q.limits }] };
    }),
    r('GET', '/v2.0/quotas/{id}', async ({ p, params }) => ({ quota: { ...(await projects.quotas(p, id0(params))).limit } })),
    r('GET', '/v2.0/quotas/{id}/default', ({ p, params }) => {
      projects.get(p, id0(params));
      return { quota: projects.defaultQuotas() };
    }),
    r('GET', '/v2.0/quotas/{id}/details', async ({ p, params }) => {
      const q = await projects.quotas(p, id0(params));
      return { quota: Object.fromEntries(QUOTA_RESOURCES.map((k) => [k, { limit: q.limit[k], used: q.usage[k], reserved: 0 }])) };
    }),
    // `openstack quota show P` (openstackclient 6) also asks the compute and volume services for
    // their quota sets, at the same endpoint when given --os-endpoint; plumb manages neither, so
    // both sets are empty (only the project id), and the network quotas above are the rest
    r('GET', '/os-quota-sets/{id}', ({ p, params }) => ({ quota_set: { id: projects.get(p, id0(params)) } })),
    r('GET', '/os-quota-sets/{id}/defaults', ({ p, params }) => ({ quota_set: { id: projects.get(p, id0(params)) } })),
    // the projects (identity v3 shape) so that `openstack quota list --network --project P` can
    // resolve P: keystoneclient asks the endpoint for /projects when no catalog says otherwise
    ...['/projects', '/v3/projects'].flatMap((prefix) => [
      r('GET', prefix, ({ p, query }) => ({ projects: projects.list(p).filter((id) => !query.get('name') || query.get('name') === id).map(projectView) })),
      r('GET', `${prefix}/{id}`, ({ p, params }) => ({ project: projectView(projects.get(p, id0(params))) })),
    ]),
    // host names and underlay addresses are the operator's: admin only, as in Neutron
    r('GET', '/v2.0/agents', async ({ p }) => {
      requireAdmin(p, 'The agents list');
      return {
      agents: (await hooks.hosts()).map((h) => ({ id: h.id, host: h.id, agent_type: 'plumb agent', binary: 'plumb', alive: h.alive, admin_state_up: true, heartbeat_timestamp: h.lastSeen ?? null, configurations: { underlay_address: h.underlayAddress ?? null } })),
      };
    }),
    r('GET', '/v2.0/plumb/hosts/{id}/desired-state', async ({ p, params }) => {
      requireAdmin(p, "A host's desired state");
      return hooks.desiredState(id0(params));
    }),
  ];
}
