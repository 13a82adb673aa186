// `plumb lab up`: namespaces and wires, nats-server, the controller on 127.0.0.1:9696, one agent
// per host namespace, and the env file the CLI reads by default.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startNatsServer } from '../bus/nats-server.js';
import { seedPath } from '../bus/credentials.js';
import { CONTROLLER_URL, HOSTS, LAB_AGENT_METRICS, LAB_DIR, LAB_ENV_FILE, NS, UNDERLAY, vmNetns } from './layout.js';
import { alive, readPids, recordPid, startPlumb } from './processes.js';
import { createTopology } from './topology.js';
import { labControllerConfig, LAB_USER, LAB_PASSWORD, waitForController } from './controller.js';
import { startHaControlPlane } from './ha.js';

export interface LabInfo {
  natsUrl: string;
  controllerUrl: string;
}

export function labIsUp(): boolean {
  const pids = readPids();
  return Object.keys(pids).length > 0 && Object.values(pids).every(alive);
}

/** The plain lab's control plane: one nats-server, one controller on SQLite. */
async function startControlPlane(log: (line: string) => void): Promise<{ natsUrls: string[]; credsDir: string }> {
  log('starting nats-server (JetStream, per-host nkey credentials)');
  const nats = await startNatsServer({ hosts: [...HOSTS], dir: join(LAB_DIR, 'nats'), detached: true });
  recordPid('nats-server', nats.pid);

  log(`starting the controller on ${CONTROLLER_URL}`);
  const ctlConfig = join(LAB_DIR, 'controller.yaml');
  writeFileSync(ctlConfig, labControllerConfig({ natsUrl: nats.url, seedFile: seedPath(nats.credsDir, 'controller'), dbPath: join(LAB_DIR, 'controller.db') }));
  startPlumb('controller', ['controller', 'run', '--config', ctlConfig]);
  await waitForController();
  return { natsUrls: [nats.url], credsDir: nats.credsDir };
}

/** `ha`: PostgreSQL, two controllers behind haproxy and three NATS nodes (ha.ts). */
export async function labUp(log: (line: string) => void, opts: { ha?: boolean } = {}): Promise<LabInfo> {
  mkdirSync(LAB_DIR, { recursive: true });
  log('creating namespaces: fabric (VXLAN underlay 10.90.0.0/24), router (public 203.0.113.0/24, 2001:db8:100::/64), h1, h2');
  createTopology();
  const nats = opts.ha ? await startHaControlPlane(log) : await startControlPlane(log);
  const natsUrl = nats.natsUrls.length === 1 ? (nats.natsUrls[0] as string) : `[${nats.natsUrls.join(', ')}]`;

  for (const h of HOSTS) {
    log(`starting the agent of ${h} (namespace ${NS[h]})`);
    const cfg = join(LAB_DIR, `agent-${h}.yaml`);
    writeFileSync(
      cfg,
      [`host: ${h}`, `netns: ${NS[h]}`, 'nats:', `  url: ${natsUrl}`, `  seedFile: ${seedPath(nats.credsDir, h)}`, 'underlay:', `  address: ${UNDERLAY[h]}`, 'veth:', `  netnsAllowed: ["${vmNetns('*')}"]`, 'heartbeatSeconds: 2', 'metrics:', `  listen: ${LAB_AGENT_METRICS[h]}`, ''].join('\n'),
    );
    startPlumb(`agent-${h}`, ['agent', 'run', '--config', cfg]);
  }

  writeFileSync(LAB_ENV_FILE, `PLUMB_URL=${CONTROLLER_URL}\nPLUMB_USER=${LAB_USER}\nPLUMB_PASSWORD=${LAB_PASSWORD}\n`, { mode: 0o600 });
  return { natsUrl: nats.natsUrls.join(','), controllerUrl: CONTROLLER_URL };
}

export function labExists(): boolean {
  return existsSync(LAB_DIR);
}
