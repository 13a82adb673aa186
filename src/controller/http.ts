// The API server over node:http: routing, basic auth, bodies (size-limited before and while
// they are read, parsed as JSON), percent-decoded ids, and Neutron's error bodies. Every failure
// a client can cause is an ApiError (4xx) here; a 500 means a bug in plumb.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { errorMessage } from '../util/errors.js';
import type { Authenticate } from './auth.js';
import { shown } from './api/decode.js';
import { ApiError, BadRequestError, BodyTooLargeError, ClientAbortedError, ConflictError, NotFoundError, RetryLaterError, ServiceUnavailableError } from './errors.js';
import type { Route } from './routes.js';
import { StoreContentionError, StoreInvariantError, StoreUnavailableError } from './store-errors.js';

export { routes, type Route } from './routes.js';

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

export interface ApiServerOptions {
  /** request bodies above this are refused with 413 before (or as soon as) they exceed it */
  maxBodyBytes?: number;
  onRequest?: (method: string, code: number) => void;
}

/** Reads at most `limit` bytes; the Content-Length is checked first, the stream as it arrives. */
function readRaw(req: IncomingMessage, limit: number): Promise<string> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) return Promise.reject(new BodyTooLargeError(limit));
  // plain events: an async iterator per request showed up in the port-create profile
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer): void => {
      size += c.length;
      if (size > limit) {
        req.off('data', onData);
        req.pause();
        reject(new BodyTooLargeError(limit));
        return;
      }
      chunks.push(c);
    };
    req.on('data', onData);
    req.once('end', () => resolve(chunks.length === 1 ? (chunks[0] as Buffer).toString() : Buffer.concat(chunks).toString()));
    // a client gone mid-body: 'error' (ECONNRESET, "aborted") or a close before the end
    req.once('error', () => reject(new ClientAbortedError()));
    req.once('close', () => {
      if (!req.complete) reject(new ClientAbortedError());
    });
  });
}

async function readBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const raw = await readRaw(req, limit);
  if (raw.length === 0) return {};
  try {
    return JSON.parse(raw) as unknown;
  } catch (err) {
    throw new BadRequestError('body', `not JSON (${errorMessage(err)})`);
  }
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new BadRequestError('id', `'${shown(s)}' is not a valid percent-encoded path segment`);
  }
}

/** The path (without trailing slashes or `.json`, the openstack CLI's form) and the query. */
function splitUrl(url: string): { path: string; query: URLSearchParams } {
  const q = url.indexOf('?');
  const path = (q < 0 ? url : url.slice(0, q)).replace(/\.json$/, '').replace(/\/+$/, '');
  return { path, query: new URLSearchParams(q < 0 ? '' : url.slice(q + 1)) };
}

/** The store's conditions a client sees: its invariant refusals are conflicts, its absence a 503; not bugs. */
function apiErrorOf(caught: unknown): unknown {
  if (caught instanceof StoreInvariantError) return new ConflictError(caught.message);
  if (caught instanceof StoreUnavailableError || caught instanceof StoreContentionError) return new ServiceUnavailableError(caught.message, caught.retryAfterSeconds);
  return caught;
}

/** nginx's code for a request the client abandoned: counted apart from every answer plumb gives */
export const CLIENT_CLOSED_REQUEST = 499;

export function createApiServer(table: Route[], authenticate: Authenticate, log: Logger, opts: ApiServerOptions = {}): Server {
  const limit = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    const send = (code: number, payload: unknown): void => {
      opts.onRequest?.(req.method ?? '', code);
      // an unread body (refused early) is not drained: close the connection instead
      if (!req.complete) res.setHeader('connection', 'close');
      if (payload === undefined) {
        res.writeHead(code).end();
        return;
      }
      res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(payload));
    };
    void (async () => {
      try {
        const { path, query } = splitUrl(req.url ?? '/');
        const matches = table.filter((r) => r.pattern.test(path));
        if (matches.length === 0) throw new NotFoundError('Resource', shown(path));
        const route = matches.find((r) => r.method === req.method);
        if (!route) {
          send(405, { NeutronError: { type: 'HTTPMethodNotAllowed', message: `${req.method} is not allowed on ${shown(path)}`, detail: '' } });
          return;
        }
        const p = path === '' || path === '/v2.0' ? { user: '', project: '', admin: false, service: false } : authenticate(req.headers.authorization, req.socket.remoteAddress ?? '');
        const params = (route.pattern.exec(path) ?? []).slice(1).map(decodeSegment);
        const body = req.method === 'POST' || req.method === 'PUT' ? await readBody(req, limit) : {};
        const out: unknown = await route.handler({ p, params, query, body });
        send(req.method === 'DELETE' ? 204 : req.method === 'POST' ? 201 : 200, req.method === 'DELETE' ? undefined : out);
      } catch (caught) {
        if (caught instanceof ClientAbortedError) {
          log.info({ method: req.method, url: req.url }, 'client closed the request before sending all of it');
          opts.onRequest?.(req.method ?? '', CLIENT_CLOSED_REQUEST);
          res.destroy();
          return;
        }
        // the store's own invariant checks (its last line of defence) are conflicts, not bugs
        const err = apiErrorOf(caught);
        if (err instanceof ApiError) {
          if (err.status === 401) res.setHeader('www-authenticate', 'Basic realm="plumb"');
          if (err instanceof RetryLaterError) res.setHeader('retry-after', String(err.retryAfterSeconds));
          if (err instanceof ServiceUnavailableError) log.warn({ err: err.message, url: req.url }, 'request not served: the store is unavailable');
          send(err.status, { NeutronError: { type: err.type, message: err.message, detail: err.detail } });
        } else {
          log.error({ err: errorMessage(err), url: req.url }, 'request failed');
          send(500, { NeutronError: { type: 'HTTPInternalServerError', message: errorMessage(err), detail: '' } });
        }
      }
    })();
  });
}
