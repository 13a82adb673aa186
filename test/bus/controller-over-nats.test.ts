// The real controller (SQLite store, HTTP API) publishing over a real nats-server: a port
// created through the API reaches only its host's watch, the host's ACTIVE report over the bus
// turns the port ACTIVE in the API, and its heartbeat marks the agent alive.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { startNatsServer, type NatsServer } from '../../src/bus/nats-server.js';
import { connectBus } from '../../src/bus/connection.js';
import { CONTROLLER_USER, seedPath } from '../../src/bus/credentials.js';
import { inboxPrefix } from '../../src/bus/layout.js';
import { watchHostState, type HostStateWatch } from '../../src/bus/watcher.js';
import { StatusReporter } from '../../src/bus/reporter.js';
import type { RunningController } from '../../src/controller/server.js';
import { validateHostState } from '../../src/state/validate.js';
import { ALICE, caller, testController } from '../controller/fixture.js';
import { until } from '../helpers/until.js';

let server: NatsServer;
let ctl: RunningController;
const conns: NatsConnection[] = [];
const watches: HostStateWatch[] = [];


beforeAll(async () => {
  server = await startNatsServer({ hosts: ['h1', 'h2'] });
  ctl = await testController({ nats: { url: server.url, seedFile: seedPath(server.credsDir, CONTROLLER_USER) } });
});

afterAll(async () => {
  for (const w of watches) await w.stop();
  for (const c of conns) await c.close().catch(() => undefined);
  await ctl?.close();
  await server?.destroy();
});

describe('the real controller over NATS', () => {
  it('a port created through the API reaches its host, and the host report turns it ACTIVE', async () => {
    const alice = caller(ctl.url, 'alice', 'pw-a');
    const nova = caller(ctl.url, 'nova', 'pw-n'); // the VM manager binds ports to hosts
    const net = await alice('POST', '/v2.0/networks', { network: { name: 'bus-net' } });
    expect(net.status).toBe(201);
    const made = await nova('POST', '/v2.0/ports', { port: { project_id: ALICE, network_id: net.body.network.id, device_id: '7', 'binding:host_id': 'h1' } });
    expect(made.body.port.status).toBe('BUILD');
    const portId = made.body.port.id as string;

    const docs = new Map<string, unknown[]>([['h1', []], ['h2', []]]);
    for (const host of ['h1', 'h2']) {
      const nc = await connectBus({ url: server.url, seedFile: seedPath(server.credsDir, host), name: host, inboxPrefix: inboxPrefix(host) });
      conns.push(nc);
      watches.push(await watchHostState(nc, host, (d) => docs.get(host)?.push(d)));
    }
    const h1 = await until(() => docs.get('h1')?.map((d) => validateHostState(d)).find((v) => v.state.ports.some((p) => p.id === portId)), 15_000, 25);
    expect(h1.rejections).toEqual([]);
    const port = h1.state.ports.find((p) => p.id === portId);
    expect(port?.mac).toBe(made.body.port.mac_address);
    // h2's own document (if the controller has one for it yet) never carries h1's port
    for (const d of docs.get('h2') ?? []) expect(validateHostState(d).state.ports.some((p) => p.id === portId)).toBe(false);

    const nc1 = conns[0] as NatsConnection;
    const rep = new StatusReporter(nc1, 'h1', { version: '0.1.0-test', underlayAddress: '10.90.0.1' });
    rep.report(h1.state.generation, [{ id: portId, status: 'ACTIVE', revision: port?.revision ?? -1 }]);
    rep.beat();
    await until(async () => ((await alice('GET', `/v2.0/ports/${portId}`)).body.port.status === 'ACTIVE' ? true : undefined), 15_000, 25);
    const agents = await caller(ctl.url, 'admin', 'a')('GET', '/v2.0/agents');
    expect(agents.body.agents.find((a: { host: string }) => a.host === 'h1')).toMatchObject({ host: 'h1', alive: true });
    rep.stop();
  });
});
