// `plumb lab up --ha`: the lab's control plane as a production cluster would run it. PostgreSQL
// (initdb/pg_ctl in the lab directory), three NATS nodes with the bucket replicated three times,
// two controllers on that database, and haproxy on the lab's API address in front of them. The
// hosts and their agents are the plain lab's; the agents are given every NATS node's URL.
// ha.json records the parts for `plumb lab status` (mode 600: it holds the database password).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { seedPath } from '../bus/credentials.js';
import { startNatsCluster } from '../bus/nats-cluster.js';
import { labControllerConfig, waitForController } from './controller.js';
import { HAPROXY_BIN, haproxyConfig } from './haproxy.js';
import { CONTROLLER_URL, LAB_DIR } from './layout.js';
import { PostgresServer } from './postgres.js';
import { recordPid, startDetached, startPlumb } from './processes.js';

export const HA_FILE = join(LAB_DIR, 'ha.json');

/** The controllers behind the balancer, on the addresses next to the lab's API address. */
export const HA_CONTROLLERS = [
  { name: 'controller-1', listen: '127.0.0.1:9697' },
  { name: 'controller-2', listen: '127.0.0.1:9698' },
] as const;

export interface HaLayout {
  postgres: { url: string; dir: string };
  nats: { urls: string[]; credsDir: string };
  controllers: { name: string; url: string }[];
  haproxy: { url: string; statsSocket: string };
}

export function readHaLayout(): HaLayout | undefined {
  return existsSync(HA_FILE) ? (JSON.parse(readFileSync(HA_FILE, 'utf8')) as HaLayout) : undefined;
}

/** Starts the HA control plane; returns the NATS URLs and credentials the agents use. */
export async function startHaControlPlane(log: (line: string) => void): Promise<{ natsUrls: string[]; credsDir: string }> {
  log('starting PostgreSQL (initdb and pg_ctl in the lab directory)');
  const pg = await PostgresServer.create({ dir: join(LAB_DIR, 'postgres') });
  const pgPid = pg.pid();
  if (pgPid !== undefined) recordPid('postgres', pgPid);

  log('starting a three-node NATS cluster (JetStream, the desired-state bucket replicated three times)');
  const nats = await startNatsCluster({ hosts: ['h1', 'h2'], dir: join(LAB_DIR, 'nats'), detached: true });
  nats.nodes.forEach((n, i) => recordPid(`nats-${i + 1}`, n.pid));

  const controllers = HA_CONTROLLERS.map((c) => ({ name: c.name, url: `http://${c.listen}` }));
  for (const c of HA_CONTROLLERS) {
    log(`starting ${c.name} on http://${c.listen} (PostgreSQL store)`);
    const cfg = join(LAB_DIR, `${c.name}.yaml`);
    writeFileSync(cfg, labControllerConfig({ listen: c.listen, pgUrl: pg.url, natsUrl: nats.urls, seedFile: seedPath(nats.credsDir, 'controller'), replicas: 3 }), { mode: 0o600 });
    startPlumb(c.name, ['controller', 'run', '--config', cfg]);
    await waitForController(30_000, `http://${c.listen}`);
  }

  log(`starting haproxy on ${CONTROLLER_URL} in front of both controllers (health-checked every 500 ms)`);
  const statsSocket = join(LAB_DIR, 'haproxy.sock');
  const hcfg = join(LAB_DIR, 'haproxy.cfg');
  writeFileSync(hcfg, haproxyConfig({ listen: new URL(CONTROLLER_URL).host, backends: HA_CONTROLLERS.map((c) => ({ name: c.name, address: c.listen })), statsSocket }));
  startDetached('haproxy', HAPROXY_BIN, ['-f', hcfg, '-db']);
  await waitForController();

  const layout: HaLayout = { postgres: { url: pg.url, dir: pg.dir }, nats: { urls: nats.urls, credsDir: nats.credsDir }, controllers, haproxy: { url: CONTROLLER_URL, statsSocket } };
  writeFileSync(HA_FILE, JSON.stringify(layout, null, 2), { mode: 0o600 });
  return { natsUrls: nats.urls, credsDir: nats.credsDir };
}
