// The health of each part of the HA lab's control plane, for `plumb lab status`: PostgreSQL (and
// which controller holds the publishing lease), each NATS node (and which leads the bucket),
// each controller as itself and as haproxy sees it, and haproxy.
import { createConnection } from 'node:net';
import pg from 'pg';
import { jetstreamManager } from '@nats-io/jetstream';
import { connectBus } from '../bus/connection.js';
import { CONTROLLER_USER, seedPath } from '../bus/credentials.js';
import { STREAM } from '../bus/layout.js';
import { LEASE_HOLDER_SQL } from '../controller/pg-lease.js';
import { shownUrl } from '../controller/pg-store.js';
import { errorMessage } from '../util/errors.js';
import type { HaLayout } from './ha.js';
import { haproxyServers } from './haproxy.js';

export interface PartHealth {
  part: string;
  address: string;
  up: boolean;
  detail: string;
}

async function tcpUp(url: string): Promise<boolean> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const c = createConnection(Number(u.port), u.hostname);
    c.setTimeout(1000, () => (c.destroy(), resolve(false)));
    c.once('connect', () => (c.destroy(), resolve(true)));
    c.once('error', () => resolve(false));
  });
}

async function httpUp(url: string): Promise<boolean> {
  try {
    return (await fetch(`${url}/`, { signal: AbortSignal.timeout(1500) })).status === 200;
  } catch {
    return false;
  }
}

async function postgres(l: HaLayout): Promise<{ health: PartHealth; leaseHolder: string | undefined }> {
  const c = new pg.Client({ connectionString: l.postgres.url, connectionTimeoutMillis: 1500 });
  try {
    await c.connect();
    const holder = (await c.query<{ application_name: string }>(LEASE_HOLDER_SQL)).rows[0]?.application_name.split(' ')[1];
    return { health: { part: 'postgresql', address: shownUrl(l.postgres.url), up: true, detail: holder ? `publishing lease held by ${holder}` : 'no controller holds the publishing lease' }, leaseHolder: holder };
  } catch (err) {
    return { health: { part: 'postgresql', address: shownUrl(l.postgres.url), up: false, detail: errorMessage(err) }, leaseHolder: undefined };
  } finally {
    await c.end().catch(() => undefined);
  }
}

async function bucketLeader(l: HaLayout): Promise<string> {
  try {
    const nc = await connectBus({ url: l.nats.urls, seedFile: seedPath(l.nats.credsDir, CONTROLLER_USER), name: 'plumb-lab-status' });
    try {
      const info = await (await jetstreamManager(nc, { timeout: 2000 })).streams.info(STREAM);
      const lagging = (info.cluster?.replicas ?? []).filter((r) => !r.current).map((r) => r.name);
      return `bucket leader ${info.cluster?.leader ?? '?'}${lagging.length ? `, catching up: ${lagging.join(', ')}` : ', every replica current'}`;
    } finally {
      await nc.close();
    }
  } catch (err) {
    return `bucket unavailable: ${errorMessage(err)}`;
  }
}

export async function haHealth(l: HaLayout): Promise<PartHealth[]> {
  const { health: pgHealth, leaseHolder } = await postgres(l);
  const out: PartHealth[] = [pgHealth];
  const bucket = await bucketLeader(l);
  for (const [i, url] of l.nats.urls.entries()) out.push({ part: `nats n${i + 1}`, address: url, up: await tcpUp(url), detail: i === 0 ? bucket : '' });
  const balanced = await haproxyServers(l.haproxy.statsSocket).catch(() => new Map<string, string>());
  for (const c of l.controllers) {
    const publishing = leaseHolder !== undefined && c.url.endsWith(leaseHolder);
    out.push({ part: c.name, address: c.url, up: await httpUp(c.url), detail: `haproxy: ${balanced.get(c.name) ?? 'unknown'}${publishing ? ', publishing' : ''}` });
  }
  out.push({ part: 'haproxy', address: l.haproxy.url, up: await httpUp(l.haproxy.url), detail: `${[...balanced.values()].filter((s) => s.startsWith('UP')).length} of ${l.controllers.length} controllers in rotation` });
  return out;
}
