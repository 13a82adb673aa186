// HTTP client for the controller API, used by the CLI. Credentials from flags, PLUMB_* env, or
// the lab's env file (/run/plumb-lab/env) when present.
import { existsSync, readFileSync } from 'node:fs';
import { PlumbError } from '../util/errors.js';

export class ApiRequestError extends PlumbError {
  constructor(readonly status: number, message: string, readonly detail: string) {
    super(`(${status}) ${message}${detail ? `\n|  ${detail}` : ''}`);
  }
}

export interface ClientOptions {
  url?: string;
  user?: string;
  password?: string;
}

function envFile(path = process.env.PLUMB_ENV_FILE ?? '/run/plumb-lab/env'): Record<string, string> {
  if (!existsSync(path)) return {};
  const out: Record<string, string> = {};
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = /^\s*(?:export\s+)?([A-Z_]+)=(.*)$/.exec(line);
    if (m?.[1]) out[m[1]] = (m[2] ?? '').replace(/^['"]|['"]$/g, '');
  }
  return out;
}

export class ApiClient {
  readonly url: string;
  private readonly auth: string | undefined;

  constructor(o: ClientOptions = {}) {
    const file = envFile();
    this.url = (o.url ?? process.env.PLUMB_URL ?? file.PLUMB_URL ?? 'http://127.0.0.1:9696').replace(/\/$/, '');
    const user = o.user ?? process.env.PLUMB_USER ?? file.PLUMB_USER;
    const password = o.password ?? process.env.PLUMB_PASSWORD ?? file.PLUMB_PASSWORD;
    this.auth = user ? `Basic ${Buffer.from(`${user}:${password ?? ''}`).toString('base64')}` : undefined;
  }

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.url}${path}`, {
        method,
        headers: { 'content-type': 'application/json', ...(this.auth ? { authorization: this.auth } : {}) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (err) {
      throw new ApiRequestError(0, `cannot reach the controller at ${this.url}`, String((err as Error).cause ?? err));
    }
    const text = await res.text();
    if (!res.ok) {
      let msg = text;
      let detail = '';
      try {
        const e = (JSON.parse(text) as { NeutronError?: { message: string; detail: string } }).NeutronError;
        if (e) {
          msg = e.message;
          detail = e.detail;
        }
      } catch {
        /* not JSON */
      }
      throw new ApiRequestError(res.status, msg, detail);
    }
    return (text ? JSON.parse(text) : {}) as T;
  }
}
