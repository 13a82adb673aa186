// The agent daemon driven over NATS, end to end on the real kernel: desired state from the
// KV bucket (published from in-memory controller hooks), ports ACTIVE reported back, and the
// reliability drill: SIGKILL the agent during a continuous ping between two VMs — no packet
// lost, and its restart makes zero kernel writes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { startNatsServer, type NatsServer } from '../../src/bus/nats-server.js';
import { connectBus } from '../../src/bus/connection.js';
import { CONTROLLER_USER, seedPath } from '../../src/bus/credentials.js';
import { DesiredStatePublisher } from '../../src/bus/publisher.js';
import type { HostStateInput } from '../../src/state/schema.js';
import { Netns, ipIn } from '../helpers/netns.js';
import { LogTail, link, spawnPlumb, tempDir, vmAddress, waitUntil } from '../helpers/topology.js';
import { FakeHooks } from './fake-hooks.js';

const netns = new Netns();
let server: NatsServer;
let controller: NatsConnection;
let publisher: DesiredStatePublisher;
const hooks = new FakeHooks();
const children: ChildProcess[] = [];
let host: string, vmA: string, vmB: string, configPath: string;

function state(generation: number, ports: unknown[]): HostStateInput {
  return {
    schemaVersion: 1,
    generation,
    host: { name: 'h1' },
    networks: [{ id: 'n1', type: 'MAC_FILTERED', macPrefix: 'aa:00:07', subnets: [{ cidr: '192.168.70.0/24' }] }],
    ports,
  } as HostStateInput;
}
// port security lets a VM send only from its own addresses, so the VMs use exactly these
const PA = () => ({ id: 'pa', network: 'n1', mac: 'aa:00:07:00:00:0a', addresses: ['192.168.70.10'], kind: 'veth', veth: { netns: vmA } });
const PB = () => ({ id: 'pb', network: 'n1', mac: 'aa:00:07:00:00:0b', addresses: ['192.168.70.11'], kind: 'veth', veth: { netns: vmB } });

function startAgent(): { child: ChildProcess; log: LogTail } {
  const child = spawnPlumb(['agent', 'run', '--config', configPath]);
  children.push(child);
  return { child, log: new LogTail(child) };
}

beforeAll(async () => {
  host = netns.add('pt-nh');
  vmA = netns.add('pt-nva');
  vmB = netns.add('pt-nvb');
  server = await startNatsServer({ hosts: ['h1'] });
  controller = await connectBus({ url: server.url, seedFile: seedPath(server.credsDir, CONTROLLER_USER), name: 'controller' });
  publisher = new DesiredStatePublisher(controller, hooks);
  await publisher.start();
  configPath = join(tempDir(), 'agent.yaml');
  writeFileSync(configPath, `host: h1\nnetns: ${host}\nnats:\n  url: ${server.url}\n  seedFile: ${seedPath(server.credsDir, 'h1')}\nveth:\n  netnsAllowed: [${vmA}, ${vmB}]\nheartbeatSeconds: 1\n`);
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await publisher?.stop();
  await controller?.close();
  await server?.destroy();
  netns.cleanup();
});

describe('agent driven over NATS', () => {
  it('plumbs the ports the controller publishes and reports them ACTIVE with a heartbeat', async () => {
    startAgent();
    hooks.set('h1', state(1, [PA(), PB()]));
    await waitUntil(() => link(host, 'vethpb')?.master === 'plumbmf0', 10_000);
    await waitUntil(() => ['pa', 'pb'].every((id) => hooks.statuses.some((s) => s.portId === id && s.status === 'ACTIVE' && s.generation === 1)), 10_000);
    await waitUntil(() => hooks.heartbeats.some((h) => h.hostId === 'h1'), 5000);
  });

  it('a port with a bad field is reported ERROR naming the field, the others stay ACTIVE', async () => {
    hooks.set('h1', state(2, [PA(), PB(), { id: 'pc', network: 'n1', mac: 'aa:00:07:00:00:0c', addresses: ['not-an-ip'] }]));
    await waitUntil(() => hooks.statuses.some((s) => s.portId === 'pc' && s.status === 'ERROR'), 10_000);
    const pc = hooks.statuses.find((s) => s.portId === 'pc' && s.status === 'ERROR');
    expect(pc?.reason).toMatch(/ports\[2\]\.addresses\[0\]: not a valid IPv4 or IPv6 address/);
    hooks.set('h1', state(3, [PA(), PB()]));
  });

  it('SIGKILL of the agent during a continuous ping loses no packet, and the restart writes nothing', async () => {
    vmAddress(vmA, 'eth0', '192.168.70.10/24');
    vmAddress(vmB, 'eth0', '192.168.70.11/24');
    const agent = children.at(-1) as ChildProcess;
    const pinger = spawn('ip', ['netns', 'exec', vmA, 'ping', '-c', '40', '-i', '0.05', '-W', '1', '192.168.70.11'], { stdio: ['ignore', 'pipe', 'pipe'] });
    // listen for the exit now: under load the restart can take longer than the 2 s of pings
    const pingerExit = new Promise((r) => pinger.once('exit', r));
    let out = '';
    pinger.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise((r) => setTimeout(r, 500));
    agent.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    const { log } = startAgent();
    const first = await log.waitFor((l) => l.msg === 'reconcile pass', 15_000);
    await pingerExit;
    expect(out).toMatch(/40 packets transmitted, 40 received, 0% packet loss/);
    expect(first).toMatchObject({ writes: 0, failures: 0, generation: 3 });
    expect(ipIn(host, 'link', 'show', 'vethpa')).toMatch(/master plumbmf0/);
  });
});
