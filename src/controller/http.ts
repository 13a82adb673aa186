// Neutron v2.0 over node:http: routing, JSON bodies, basic auth, Neutron error bodies.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { errorMessage } from '../util/errors.js';
import type { Principal } from './auth.js';
import { ApiError, BadRequestError, ForbiddenError, NotFoundError } from './errors.js';
import type { ControllerHooks } from './hooks.js';
import type { ControllerService } from './service.js';

type Body = Record<string, unknown>;
type Handler = (ctx: { p: Principal; params: string[]; query: URLSearchParams; body: Body }) => unknown;

interface Route {
  method: string;
  pattern: RegExp;
  handler: Handler;
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
    r('GET', '/v2.0/networks', ({ p }) => ({ networks: svc.listNetworks(p) })),
    r('POST', '/v2.0/networks', ({ p, body }) => ({ network: svc.createNetwork(p, unwrap(body, 'network')) })),
    r('GET', '/v2.0/networks/{id}', ({ p, params }) => ({ network: svc.getNetwork(p, params[0] as string) })),
    r('DELETE', '/v2.0/networks/{id}', ({ p, params }) => svc.deleteNetwork(p, params[0] as string)),
    r('GET', '/v2.0/subnets', ({ p }) => ({ subnets: svc.listSubnets(p) })),
    r('POST', '/v2.0/subnets', ({ p, body }) => ({ subnet: svc.createSubnet(p, unwrap(body, 'subnet')) })),
    r('GET', '/v2.0/subnets/{id}', ({ p, params }) => ({ subnet: svc.getSubnet(p, params[0] as string) })),
    r('PUT', '/v2.0/subnets/{id}', ({ p, params, body }) => ({ subnet: svc.updateSubnet(p, params[0] as string, unwrap(body, 'subnet')) })),
    r('DELETE', '/v2.0/subnets/{id}', ({ p, params }) => svc.deleteSubnet(p, params[0] as string)),
    r('GET', '/v2.0/ports', ({ p, query }) => ({ ports: svc.listPorts(p, { ...(query.get('device_id') ? { device_id: query.get('device_id') as string } : {}), ...(query.get('network_id') ? { network_id: query.get('network_id') as string } : {}) }) })),
    r('POST', '/v2.0/ports', ({ p, body }) => ({ port: svc.createPort(p, unwrap(body, 'port')) })),
    r('GET', '/v2.0/ports/{id}', ({ p, params }) => ({ port: svc.getPort(p, params[0] as string) })),
    r('PUT', '/v2.0/ports/{id}', ({ p, params, body }) => ({ port: svc.updatePort(p, params[0] as string, unwrap(body, 'port')) })),
    r('DELETE', '/v2.0/ports/{id}', ({ p, params }) => svc.deletePort(p, params[0] as string)),
    r('GET', '/v2.0/floatingips', ({ p }) => ({ floatingips: svc.listFloatingIps(p) })),
    r('POST', '/v2.0/floatingips', ({ p, body }) => ({ floatingip: svc.createFloatingIp(p, unwrap(body, 'floatingip')) })),
    r('GET', '/v2.0/floatingips/{id}', ({ p, params }) => ({ floatingip: svc.getFloatingIp(p, params[0] as string) })),
    r('PUT', '/v2.0/floatingips/{id}', ({ p, params, body }) => ({ floatingip: svc.updateFloatingIp(p, params[0] as string, unwrap(body, 'floatingip')) })),
    r('DELETE', '/v2.0/floatingips/{id}', ({ p, params }) => svc.deleteFloatingIp(p, params[0] as string)),
    // plumb's own: attach a floating IP to a device (kamaki's `ip attach IP --server-id D`)
    r('POST', '/v2.0/floatingips/{id}/attach', ({ p, params, body }) => {
      const f = svc.floatingIpRow(p, params[0] as string);
      const device = String(body.device_id ?? '');
      const host = (body.host as string | undefined) ?? svc.deviceHost(p, device);
      return { floatingip: svc.attachToDevice(p, f, device, host) };
    }),
    r('GET', '/v2.0/quotas', ({ p }) => ({ quotas: [{ project_id: p.project, tenant_id: p.project, ...svc.quotas(p) }] })),
    r('GET', '/v2.0/quotas/{id}', ({ p, params }) => {
      if (params[0] !== p.project && !p.admin) throw new NotFoundError('Resource', params[0] as string);
      return { quota: svc.quotas(p) };
    }),
    r('GET', '/v2.0/quotas/{id}/details', ({ p }) => {
      const q = svc.quotas(p) as { network: number; floatingip: number; port: number; usage: Record<string, number> };
      const d = (k: 'network' | 'floatingip' | 'port'): Body => ({ limit: q[k], used: q.usage[k] ?? 0, reserved: 0 });
      return { quota: { network: d('network'), floatingip: d('floatingip'), port: d('port') } };
    }),
    r('GET', '/v2.0/agents', () => ({
      agents: hooks.hosts().map((h) => ({ id: h.id, host: h.id, agent_type: 'plumb agent', binary: 'plumb', alive: h.alive, admin_state_up: true, heartbeat_timestamp: h.lastSeen ?? null, configurations: { underlay_address: h.underlayAddress ?? null } })),
    })),
    r('GET', '/v2.0/plumb/hosts/{id}/desired-state', ({ p, params }) => {
      admin(p);
      return hooks.desiredState(params[0] as string);
    }),
  ];
}

async function readBody(req: IncomingMessage): Promise<Body> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  if (chunks.length === 0) return {};
  try {
    const v = JSON.parse(Buffer.concat(chunks).toString()) as unknown;
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
        const out = route.handler({ p, params, query: url.searchParams, body });
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
