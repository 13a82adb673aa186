// A controller on a free loopback port with an in-memory-like temp database.
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { parseControllerConfig } from '../../src/controller/config.js';
import { startController, type RunningController } from '../../src/controller/server.js';

/** alice's project in the fixture */
export const ALICE = 's0m3-u53r-1d';

export async function testController(overrides: Record<string, unknown> = {}): Promise<RunningController> {
  const dir = mkdtempSync(join(tmpdir(), 'plumb-ctl-'));
  return startController(
    parseControllerConfig({
      listen: '127.0.0.1:0',
      database: join(dir, 'controller.db'),
      privateNetworks: { enabledTypes: ['MAC_FILTERED', 'VXLAN'], cidrRange: '192.168.0.0/16' },
      publicNetworks: [{ name: 'public', uplink: 'pub0', routingTable: 100, subnets: [{ cidr: '192.168.3.0/24', gateway: '192.168.3.1', allocationPools: [{ start: '192.168.3.5', end: '192.168.3.20' }] }] }],
      users: [
        { name: 'admin', password: 'a', project: 'admin', roles: ['admin'] },
        { name: 'alice', password: 'pw-a', project: 's0m3-u53r-1d' },
        { name: 'bob', password: 'pw-b', project: 'other-project' },
        // the VM manager (Nova's role): binds ports to hosts for any project
        { name: 'nova', password: 'pw-n', project: 'service', roles: ['service'] },
      ],
      bindingProfile: { netnsAllowed: ['vm-*'] },
      quotas: { networks: 5, floatingIps: 3 },
      ...overrides,
    }),
  );
}

export function caller(url: string, user: string, password: string) {
  const auth = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  return async (method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, any> }> => {
    const res = await fetch(`${url}${path}`, { method, headers: { authorization: auth, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as Record<string, any>) : {} };
  };
}

/** The fixture's four identities: two projects, the operator and the VM manager (service role). */
export function identities(url: string) {
  return { alice: caller(url, 'alice', 'pw-a'), bob: caller(url, 'bob', 'pw-b'), admin: caller(url, 'admin', 'a'), nova: caller(url, 'nova', 'pw-n') };
}
