// A three-node NATS cluster (JetStream, the desired-state bucket replicated three times) under a
// controller and a real agent that are given every node's URL. With two VMs pinging and ports
// churning through the API, the node that leads the bucket's stream is SIGKILLed: the agent keeps
// converging through the others, no update is lost or applied out of order, the VMs lose no
// packet, and the node catches up when it returns. Afterwards the store, the bucket and the
// host's kernel agree.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectBus } from '../../src/bus/connection.js';
import { CONTROLLER_USER, seedPath } from '../../src/bus/credentials.js';
import { entriesOf } from '../../src/bus/documents.js';
import { BUCKET, STREAM } from '../../src/bus/layout.js';
import { startNatsCluster, type NatsCluster } from '../../src/bus/nats-cluster.js';
import type { RunningController } from '../../src/controller/server.js';
import { portIfname } from '../../src/state/names.js';
import { caller, testController, ALICE } from '../controller/fixture.js';
import { Observer, pingStats } from '../hypervisors/observers.js';
import { Netns, ipJson } from '../helpers/netns.js';
import { LogTail, spawnPlumb, tempDir, vmAddress, waitUntil } from '../helpers/topology.js';
import { kvEntries } from './kv-entries.js';

const netns = new Netns();
let cluster: NatsCluster;
let ctl: RunningController;
let bus: NatsConnection;
let kv: KV;
let agent: ChildProcess | undefined;
let host: string, vmA: string, vmB: string;

beforeAll(async () => {
  host = netns.add('pt-ch');
  vmA = netns.add('pt-cva');
  vmB = netns.add('pt-cvb');
  cluster = await startNatsCluster({ hosts: ['h1'] });
  const seedFile = seedPath(cluster.credsDir, CONTROLLER_USER);
  ctl = await testController({ nats: { url: cluster.urls, seedFile, replicas: 3 }, bindingProfile: { netnsAllowed: [vmA, vmB] }, quotas: { networks: 5, floatingIps: 3, devicesPerNetwork: 1000, nicsPerDevice: 15 } });
  bus = await connectBus({ url: cluster.urls, seedFile, name: 'test-reader' });
  kv = await new Kvm(bus).open(BUCKET);
}, 60_000);

afterAll(async () => {
  if (agent && agent.exitCode === null) agent.kill('SIGKILL');
  await bus?.close();
  await ctl?.close();
  await cluster?.destroy();
  netns.cleanup();
});

describe('three-node NATS cluster', () => {
  it('SIGKILL of the node leading the bucket during churn: the host converges on the others, nothing lost or out of order, the node catches up', async () => {
    const config = join(tempDir(), 'agent.yaml');
    writeFileSync(config, [`host: h1`, `netns: ${host}`, 'nats:', `  url: [${cluster.urls.join(', ')}]`, `  seedFile: ${seedPath(cluster.credsDir, 'h1')}`, 'veth:', `  netnsAllowed: [${vmA}, ${vmB}]`, 'heartbeatSeconds: 1', ''].join('\n'));
    agent = spawnPlumb(['agent', 'run', '--config', config]);
    const log = new LogTail(agent);
    const jsm = await jetstreamManager(bus, { timeout: 2000 });
    expect((await jsm.streams.info(STREAM)).config.num_replicas).toBe(3);

    const alice = caller(ctl.url, 'alice', 'pw-a');
    const nova = caller(ctl.url, 'nova', 'pw-n');
    const net = (await alice('POST', '/v2.0/networks', { network: { name: 'churn' } })).body.network as { id: string };
    const vm = async (ns: string, device: string): Promise<string> => {
      const r = await nova('POST', '/v2.0/ports', { port: { network_id: net.id, project_id: ALICE, device_id: device, 'binding:host_id': 'h1', 'binding:profile': { kind: 'veth', netns: ns, peer_name: 'eth0' } } });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      return r.body.port.fixed_ips[0].ip_address as string;
    };
    const [ipA, ipB] = [await vm(vmA, 'vma'), await vm(vmB, 'vmb')];
    const status = async (): Promise<{ id: string; status: string }[]> => (await alice('GET', '/v2.0/ports')).body.ports as { id: string; status: string }[];
    const allActive = async (): Promise<boolean> => (await status()).every((p) => p.status === 'ACTIVE');
    for (let i = 0; i < 300 && !(await allActive()); i++) await new Promise((r) => setTimeout(r, 50));
    expect(await allActive()).toBe(true);
    vmAddress(vmA, 'eth0', `${ipA}/24`);
    vmAddress(vmB, 'eth0', `${ipB}/24`);
    const pinger = new Observer(vmA, 'ping', ['-D', '-n', '-i', '0.05', ipB]);

    // churn: tap ports come and go on h1 through the API the whole time
    let stop = false;
    let made = 0;
    const churn = (async () => {
      const held: string[] = [];
      for (let i = 0; !stop; i++) {
        const r = await nova('POST', '/v2.0/ports', { port: { network_id: net.id, project_id: ALICE, device_id: `c${i}`, 'binding:host_id': 'h1' } });
        if (r.status === 201) {
          held.push(r.body.port.id as string);
          made += 1;
        }
        if (held.length > 12) await nova('DELETE', `/v2.0/ports/${held.shift()}`);
        await new Promise((res) => setTimeout(res, 20));
      }
    })();
    await new Promise((r) => setTimeout(r, 1500));

    /** SIGKILL node `name`; the next change after it, ACTIVE on the host; then the node returns */
    const drill = async (name: string, marker: string): Promise<number> => {
      const victim = cluster.nodes.find((_, i) => `n${i + 1}` === name);
      expect(victim, `${name} is one of the nodes`).toBeDefined();
      await victim!.kill();
      const killedAt = Date.now();
      // the next change made after the kill, applied on the host (ACTIVE comes back over the bus)
      const id = (await nova('POST', '/v2.0/ports', { port: { network_id: net.id, project_id: ALICE, device_id: marker, 'binding:host_id': 'h1' } })).body.port.id as string;
      for (;;) {
        const p = (await alice('GET', `/v2.0/ports/${id}`)).body.port as { status: string };
        if (p.status === 'ACTIVE') break;
        expect(Date.now() - killedAt, `the port made after ${name} died is applied within 30 s`).toBeLessThan(30_000);
        await new Promise((r) => setTimeout(r, 25));
      }
      const ms = Date.now() - killedAt;
      await new Promise((r) => setTimeout(r, 2000));
      await victim!.restart();
      await new Promise((r) => setTimeout(r, 2000));
      return ms;
    };
    // the node leading the bucket, then the one leading the agent's watch consumer (a watch
    // consumer with one copy died with its node, and its name stayed taken until the node returned)
    const leader = (await jsm.streams.info(STREAM)).cluster?.leader ?? '';
    const failoverMs = await drill(leader, 'marker');
    const newLeader = (await jsm.streams.info(STREAM)).cluster?.leader;
    let watchLeader = '';
    for await (const c of jsm.consumers.list(STREAM)) if (c.name.endsWith('_h1') && c.cluster?.leader) watchLeader = c.cluster.leader;
    expect(watchLeader, 'the agent has a watch consumer').not.toBe('');
    const consumerFailoverMs = await drill(watchLeader, 'marker2');
    // the watch pulled on from the consumer's new leader: it did not end and start over (a new
    // consumer waits for the meta leader, which may have died with the same node)
    expect(log.lines.filter((l) => /Leadership Change/i.test(String(l.err ?? '')))).toEqual([]);
    // every node not killed yet: the agent's connection was on one of the three, so it has
    // reconnected at least once by now; it pulled on from its replicated consumer rather than
    // rebuild with a new one (which waits for the meta leader: 30 s and more were seen)
    const others: number[] = [];
    for (const name of ['n1', 'n2', 'n3'].filter((n) => n !== leader && n !== watchLeader)) others.push(await drill(name, `marker-${name}`));
    expect(log.lines.filter((l) => /bus reconnected/.test(String(l.msg))).length, 'the agent reconnected').toBeGreaterThan(0);
    expect(log.lines.filter((l) => /rebuilding the desired state/.test(String(l.msg))).map((l) => l.msg)).toEqual([]);
    stop = true;
    await churn;

    // converged: every port ACTIVE, the kernel holds exactly the bound taps, the bucket equals the store
    const deadline = Date.now() + 30_000;
    while (!(await allActive()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const ports = await status();
    expect(ports.filter((p) => p.status !== 'ACTIVE')).toEqual([]);
    const taps = ipJson<{ ifname: string }[]>(host, '-j', 'link', 'show').map((l) => l.ifname).filter((n) => n.startsWith('tap')).sort();
    const bound = ((await ctl.hooks.desiredState('h1')).ports ?? []) as { id: string; kind: 'tap' | 'veth' }[];
    expect(taps).toEqual(bound.filter((p) => p.kind === 'tap').map((p) => portIfname(p)).sort());
    expect(Object.fromEntries(await kvEntries(kv, 'h1'))).toEqual(Object.fromEntries(entriesOf('h1', await ctl.hooks.desiredState('h1'))));
    // the agent applied generations in order, up to the last one published
    const applied = log.passes().map((l) => Number(l.generation));
    expect(applied).toEqual([...applied].sort((x, y) => x - y));
    expect(applied.at(-1)).toBe((await ctl.hooks.desiredState('h1')).generation);
    // the node that died is a current replica again
    let replicas = (await jsm.streams.info(STREAM)).cluster?.replicas ?? [];
    for (let i = 0; i < 100 && !(replicas.length === 2 && replicas.every((r) => r.current && !r.lag)); i++) {
      await new Promise((r) => setTimeout(r, 100));
      replicas = (await jsm.streams.info(STREAM)).cluster?.replicas ?? [];
    }
    expect(replicas.map((r) => ({ current: r.current, lag: r.lag ?? 0 }))).toEqual([
      { current: true, lag: 0 },
      { current: true, lag: 0 },
    ]);
    await pinger.stop();
    const ping = pingStats(pinger.lines);
    console.log(
      `NATS node ${leader} (the bucket's leader) SIGKILLed during churn (${made} ports made): the next change was ACTIVE on the host ${failoverMs} ms after the kill (JetStream elects the stream's new leader first); new leader ${newLeader}; then ${watchLeader} (leading the agent's watch consumer): ${consumerFailoverMs} ms; the others: ${others.join(', ')} ms; ${log.lines.filter((l) => /bus reconnected/.test(String(l.msg))).length} reconnects; ${applied.length} passes in generation order; ping ${ping.received}/${ping.transmitted}, lost ${ping.lost}`,
    );
    expect(ping.transmitted).toBeGreaterThan(50);
    expect(ping.lost).toBe(0);
  }, 180_000);
});
