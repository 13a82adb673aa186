// HTTP basic authentication against users from the config; passwords stored as scrypt hashes.
import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import type { ControllerConfig } from './config.js';
import { UnauthorizedError } from './errors.js';
import type { LoginThrottle } from './login-throttle.js';

export interface Principal {
  user: string;
  project: string;
  /** the operator: sees and changes every project's objects */
  admin: boolean;
  /** the VM manager (Nova's role): binds any project's ports to hosts, nothing more */
  service: boolean;
}

export function hashPassword(password: string): string {
  const salt = randomBytes(16);
  return `scrypt$${salt.toString('hex')}$${scryptSync(password, salt, 32).toString('hex')}`;
}

function verify(password: string, hash: string): boolean {
  const [, salt, want] = hash.split('$');
  if (!salt || !want) return false;
  const got = scryptSync(password, Buffer.from(salt, 'hex'), 32);
  return timingSafeEqual(got, Buffer.from(want, 'hex'));
}

/** Checks a request's credentials; `address` is the client's (failed logins are limited per address too). */
export type Authenticate = (header: string | undefined, address: string) => Principal;

export function authenticator(cfg: ControllerConfig, throttle?: LoginThrottle): Authenticate {
  // hashes are checked once per distinct credential: scrypt is deliberately slow
  const cache = new Map<string, Principal>();
  return (header, address) => {
    if (cfg.auth === 'none') return { user: 'anonymous', project: 'admin', admin: true, service: false };
    const m = /^Basic (.+)$/i.exec(header ?? '');
    if (!m?.[1]) throw new UnauthorizedError('Authentication required (HTTP basic)');
    const hit = cache.get(m[1]);
    if (hit) return hit;
    const [name = '', ...rest] = Buffer.from(m[1], 'base64').toString().split(':');
    const password = rest.join(':');
    throttle?.check(name, address);
    const u = cfg.users.find((x) => x.name === name);
    const ok = u && (u.passwordHash ? verify(password, u.passwordHash) : u.password === password);
    if (!u || !ok) {
      throttle?.fail(name, address);
      throw new UnauthorizedError('Invalid user name or password');
    }
    const p = { user: u.name, project: u.project, admin: u.roles.includes('admin'), service: u.roles.includes('service') };
    cache.set(m[1], p);
    return p;
  };
}
