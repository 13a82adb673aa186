// Neutron v2.0 over node:http: routing, JSON bodies, basic auth, Neutron error bodies.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { errorMessage } from '../util/errors.js';
import type { Principal } from './auth.js';
import { ApiError, BadRequestError, ForbiddenError, NotFoundError } from './errors.js';
import type { ControllerHooks } from '../state/controller-hooks.js';
import { QUOTA_RESOURCES, type ControllerService } from './service.js';

type Body = Record<string, unknown>;
type Handler = (ctx: { p: Principal; params: string[]; query: URLSearchParams; body: Body }) => unknown;  // may return a promise

interface Route {
  method: string;
  pattern: RegExp;
  handler: Handler;
}

function projectView(id: string): Body {
  return { id, name: id, domain_id: 'default', enabled: true, description: '', is_domain: false, parent_id: 'default', links: {} };
}

function unwrap(body: Body, key: string): Body {
  const inner = body[key];
  if (!inner || typeof inner !== 'object' || Array.isArray(inner)) throw new BadRequestError(key, `the request body must be {"${key}": {...}}`);
  return inner as Body;
}

export function routes(svc: ControllerService, hooks: ControllerHooks, base: () => string): Route[] {
  const r = (method: string, path: string, handler: Handler): Route => ({ method, pattern: new RegExp(`^${path.replace(/\{id\}/g, '([^/]+)')}/?$`), handler });
  const admin = (p: Principal): void => {
    if (!p.admin) throw new ForbiddenError('Admin role required');
  };
  return [
    r('GET', '', () => ({ versions: [{ id: 'v2.0', status: 'CURRENT', links: [{ href: `${base()}/v2.0/`, rel: 'self' }] }] })),
    r('GET', '/v2.0', () => ({ resources: ['network', 'subnet', 'port', 'floatingip', 'quota', 'agent'].map((n) => ({ name: n, collection: `${n === 'quota' ? 'quota' : n}s`, links: [{ href: `${base()}/v2.0/${n}s`, rel: 'self' }] })) })),
    r('GET', '/v2.0/extensions', () => ({ extensions: [] })),
    r('GET', '/v2.0/networks', async ({ p }) => ({ networks: await svc.listNetworks(p) })),
    r('POST', '/v2.0/networks', async ({ p, body }) => ({ network: await svc.createNetwork(p, unwrap(body, 'network')) })),
    r('GET', '/v2.0/networks/{id}', async ({ p, params }) => ({ network: await svc.getNetwork(p, params[0] as string) })),
    r('DELETE', '/v2.0/networks/{id}', ({ p, params }) => svc.deleteNetwork(p, params[0] as string)),
    r('GET', '/v2.0/subnets', async ({ p }) => ({ subnets: await svc.listSubnets(p) })),
    r('POST', '/v2.0/subnets', async ({ p, body }) => ({ subnet: await svc.createSubnet(p, unwrap(body, 'subnet')) })),
    r('GET', '/v2.0/subnets/{id}', async ({ p, params }) => ({ subnet: await svc.getSubnet(p, params[0] as string) })),
    r('PUT', '/v2.0/subnets/{id}', async ({ p, params, body }) => ({ subnet: await svc.updateSubnet(p, params[0] as string, unwrap(body, 'subnet')) })),
    r('DELETE', '/v2.0/subnets/{id}', ({ p, params }) => svc.deleteSubnet(p, params[0] as string)),
    r('GET', '/v2.0/ports', async ({ p, query }) => ({ ports: await svc.listPorts(p, { ...(query.get('device_id') ? { device_id: query.get('device_id') as string } : {}), ...(query.get('network_id') ? { network_id: query.get('network_id') as string } : {}) }) })),
    r('POST', '/v2.0/ports', async ({ p, body }) => ({ port: await svc.createPort(p, unwrap(body, 'port')) })),
    r('GET', '/v2.0/ports/{id}', async ({ p, params }) => ({ port: await svc.getPort(p, params[0] as string) })),
    r('PUT', '/v2.0/ports/{id}', async ({ p, params, body }) => ({ port: await svc.updatePort(p, params[0] as string, unwrap(body, 'port')) })),
    r('DELETE', '/v2.0/ports/{id}', ({ p, params }) => svc.deletePort(p, params[0] as string)),
    r('GET', '/v2.0/floatingips', async ({ p }) => ({ floatingips: await svc.listFloatingIps(p) })),
    r('POST', '/v2.0/floatingips', async ({ p, body }) => ({ floatingip: await svc.createFloatingIp(p, unwrap(body, 'floatingip')) })),
    r('GET', '/v2.0/floatingips/{id}', async ({ p, params }) => ({ floatingip: await svc.getFloatingIp(p, params[0] as string) })),
    r('PUT', '/v2.0/floatingips/{id}', async ({ p, params, body }) => ({ floatingip: await svc.updateFloatingIp(p, params[0] as string, unwrap(body, 'floatingip')) })),
    r('DELETE', '/v2.0/floatingips/{id}', ({ p, params }) => svc.deleteFloatingIp(p, params[0] as string)),
    // plumb's own: attach a floating IP to a device (kamaki's `ip attach IP --server-id D`)
    r('POST', '/v2.0/floatingips/{id}/attach', async ({ p, params, body }) => ({ floatingip: await svc.attachFloatingIp(p, params[0] as string, body) })),
    // Neutron quotas (limits are the config's, the same for every project; -1 is unlimited)
    r('GET', '/v2.0/quotas', async ({ p }) => {
      const q = await svc.quotas(p);
      return { quotas: [{ project_id: q.project, tenant_id: q.project, ...q.limit, usage: q.usage, limits: q.limits }] };
    }),
    r('GET', '/v2.0/quotas/{id}', async ({ p, params }) => ({ quota: { ...(await svc.quotas(p, params[0] as string)).limit } })),
    r('GET', '/v2.0/quotas/{id}/default', ({ p, params }) => {
      svc.project(p, params[0] as string);
      return { quota: svc.defaultQuotas() };
    }),
    r('GET', '/v2.0/quotas/{id}/details', async ({ p, params }) => {
      const q = await svc.quotas(p, params[0] as string);
      return { quota: Object.fromEntries(QUOTA_RESOURCES.map((k) => [k, { limit: q.limit[k], used: q.usage[k], reserved: 0 }])) };
    }),
    // `openstack quota show P` (openstackclient 6) also asks the compute and volume services for
    // their quota sets, at the same endpoint when given --os-endpoint; plumb manages neither, so
    // both sets are empty (only the project id), and the network quotas above are the rest
    r('GET', '/os-quota-sets/{id}', ({ p, params }) => ({ quota_set: { id: svc.project(p, params[0] as string) } })),
    r('GET', '/os-quota-sets/{id}/defaults', ({ p, params }) => ({ quota_set: { id: svc.project(p, params[0] as string) } })),
    // the projects (identity v3 shape) so that `openstack quota list --network --project P` can
    // resolve P: keystoneclient asks the endpoint for /projects when no catalog says otherwise
    ...['/projects', '/v3/projects'].flatMap((base) => [
      r('GET', base, ({ p, query }) => ({ projects: svc.projects(p).filter((id) => !query.get('name') || query.get('name') === id).map(projectView) })),
      r('GET', `${base}/{id}`, ({ p, params }) => ({ project: projectView(svc.project(p, params[0] as string)) })),
    ]),
    r('GET', '/v2.0/agents', async () => {
      return {
        agents: (await hooks.hosts()).map((h) => ({ id: h.id, host: h.id, agent_type: 'plumb agent', binary: 'plumb', alive: h.alive, admin_state_up: true, heartbeat_timestamp: h.lastSeen ?? null, configurations: { underlay_address: h.underlayAddress ?? null } })),
      };
    }),
    r('GET', '/v2.0/plumb/hosts/{id}/desired-state', async ({ p, params }) => {
      admin(p);
      return hooks.desiredState(params[0] as string);
    }),
  ];
}

function readRaw(req: IncomingMessage): Promise<string> {
  // plain events: an async iterator per request showed up in the port-create profile
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.once('end', () => resolve(chunks.length === 1 ? (chunks[0] as Buffer).toString() : Buffer.concat(chunks).toString()));
    req.once('error', reject);
  });
}

async function readBody(req: IncomingMessage): Promise<Body> {
  const raw = await readRaw(req);
  if (raw.length === 0) return {};
  try {
    const v = JSON.parse(raw) as unknown;
    if (!v || typeof v !== 'object') throw new Error('not an object');
    return v as Body;
  } catch (err) {
    throw new BadRequestError('body', `not a JSON object (${errorMessage(err)})`);
  }
}

export function createApiServer(table: Route[], authenticate: (h: string | undefined) => Principal, log: Logger, onRequest?: (method: string, code: number) => void): Server {
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    const send = (code: number, payload: unknown): void => {
      onRequest?.(req.method ?? '', code);
      if (payload === undefined) {
        res.writeHead(code).end();
        return;
      }
      res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(payload));
    };
    void (async () => {
      try {
        const url = new URL(req.url ?? '/', 'http://x');
        const path = url.pathname.replace(/\.json$/, '').replace(/\/+$/, '');
        const matches = table.filter((r) => r.pattern.test(path));
        if (matches.length === 0) throw new NotFoundError('Resource', path);
        const route = matches.find((r) => r.method === req.method);
        if (!route) {
          send(405, { NeutronError: { type: 'HTTPMethodNotAllowed', message: `${req.method} is not allowed on ${path}`, detail: '' } });
          return;
        }
        const p = path === '' || path === '/v2.0' ? { user: '', project: '', admin: false } : authenticate(req.headers.authorization);
        const body = req.method === 'POST' || req.method === 'PUT' ? await readBody(req) : {};
        const params = (route.pattern.exec(path) ?? []).slice(1).map(decodeURIComponent);
        const out: unknown = await route.handler({ p, params, query: url.searchParams, body });
        send(req.method === 'DELETE' ? 204 : req.method === 'POST' ? 201 : 200, req.method === 'DELETE' ? undefined : out);
      } catch (err) {
        if (err instanceof ApiError) {
          if (err.status === 401) res.setHeader('www-authenticate', 'Basic realm="plumb"');
          send(err.status, { NeutronError: { type: err.type, message: err.message, detail: err.detail } });
        } else {
          log.error({ err: errorMessage(err), url: req.url }, 'request failed');
          send(500, { NeutronError: { type: 'HTTPInternalServerError', message: errorMessage(err), detail: '' } });
        }
      }
    })();
  });
}
