// Per-identity NATS credentials (nkey seeds) for the controller and each host. What each identity
// may do on the bus is the server configuration's job: src/bus/server-config.ts.
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { createUser, fromSeed } from '@nats-io/nkeys';
import { token } from './layout.js';
import { MissingCredentialsError } from './errors.js';

export const CONTROLLER_USER = 'controller';

export interface Identity {
  name: string;
  /** Public nkey (U...). */
  publicKey: string;
  /** Seed (SU...), secret. */
  seed: string;
}

export function seedPath(dir: string, name: string): string {
  return join(dir, `${name}.nk`);
}

/**
 * Create (or keep existing) seeds for the controller and every host. New files are 0600. An
 * existing file keeps its owner and mode, so a group read the operator granted (the controller
 * reads its seed as group plumb under systemd) survives a later gen-creds or gen-server-config;
 * only access for others is taken away, since a seed must never be world-readable.
 */
export function generateCredentials(dir: string, hosts: string[]): Identity[] {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return [CONTROLLER_USER, ...hosts.map((h) => token('host', h))].map((name) => {
    const path = seedPath(dir, name);
    if (!existsSync(path)) {
      const kp = createUser();
      writeFileSync(path, `${new TextDecoder().decode(kp.getSeed())}\n`, { mode: 0o600 });
      chmodSync(path, 0o600);
    } else {
      const mode = statSync(path).mode & 0o777;
      if (mode & 0o007) chmodSync(path, mode & ~0o007);
    }
    return loadIdentity(dir, name);
  });
}

export function loadIdentity(dir: string, name: string): Identity {
  const path = seedPath(dir, name);
  let seed: string;
  try {
    seed = readFileSync(path, 'utf8').trim();
  } catch {
    throw new MissingCredentialsError(`no NATS seed for '${name}' at ${path} (plumb bus gen-creds)`);
  }
  return { name, seed, publicKey: fromSeed(new TextEncoder().encode(seed)).getPublicKey() };
}
