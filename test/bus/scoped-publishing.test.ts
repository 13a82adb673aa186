// The controller publishes each API change as the few objects it touched, not as a rebuild of
// the host's whole document. These tests hold that to the level-based truth: after any sequence
// of changes, each host's keys in the real KV equal its full desired state, built from scratch;
// and they check that one change writes only its own objects, on its own host.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { startNatsServer, type NatsServer } from '../../src/bus/nats-server.js';
import { connectBus } from '../../src/bus/connection.js';
import { CONTROLLER_USER, seedPath } from '../../src/bus/credentials.js';
import { entriesOf } from '../../src/bus/documents.js';
import { BUCKET } from '../../src/bus/layout.js';
import type { DesiredStatePublisher } from '../../src/bus/publisher.js';
import type { RunningController } from '../../src/controller/server.js';
import { ALICE, caller, testController } from '../controller/fixture.js';
import { kvEntries } from './kv-entries.js';

const HOSTS = ['h1', 'h2', 'h3'];
let server: NatsServer;
let ctl: RunningController;
let publisher: DesiredStatePublisher;
let reader: NatsConnection;
let kv: KV;
let alice: ReturnType<typeof caller>;
let nova: ReturnType<typeof caller>;

/** A small deterministic PRNG (mulberry32): a failing sequence can be replayed. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Every host's keys equal its full desired state, built from scratch. */
async function expectConverged(): Promise<void> {
  await publisher.flushed();
  for (const h of HOSTS) {
    const want = entriesOf(h, await ctl.hooks.desiredState(h));
    expect(Object.fromEntries(await kvEntries(kv, h)), `host ${h}`).toEqual(Object.fromEntries(want));
  }
}

const generation = async (host: string): Promise<number> => (await ctl.hooks.desiredState(host)).generation ?? 0;

beforeAll(async () => {
  server = await startNatsServer({ hosts: HOSTS });
  ctl = await testController({ nats: { url: server.url, seedFile: seedPath(server.credsDir, CONTROLLER_USER) }, quotas: { networks: 5, floatingIps: 3 } });
  if (!ctl.publisher) throw new Error('the test controller has no publisher');
  publisher = ctl.publisher;
  reader = await connectBus({ url: server.url, seedFile: seedPath(server.credsDir, CONTROLLER_USER), name: 'test-reader' });
  kv = await new Kvm(reader).open(BUCKET);
  alice = caller(ctl.url, 'alice', 'pw-a');
  nova = caller(ctl.url, 'nova', 'pw-n');
  // underlay addresses, so VXLAN networks list remote VTEPs
  for (const [i, h] of HOSTS.entries()) ctl.hooks.reportHeartbeat({ hostId: h, version: 'test', underlayAddress: `10.90.0.${i + 1}` });
  await ctl.service.settled();
});

afterAll(async () => {
  await reader?.close().catch(() => undefined);
  await ctl?.close();
  await server?.destroy();
});

describe('publishing only what a change touched', () => {
  it('one port created on a host with 60 ports writes that port and the meta, and nothing on other hosts', async () => {
    const net = (await alice('POST', '/v2.0/networks', { network: { name: 'flat', type: 'MAC_FILTERED' } })).body.network.id as string;
    for (let i = 0; i < 60; i++) expect((await nova('POST', '/v2.0/ports', { port: { project_id: ALICE, network_id: net, device_id: `v${i}`, 'binding:host_id': 'h1' } })).status).toBe(201);
    await nova('POST', '/v2.0/ports', { port: { project_id: ALICE, network_id: net, device_id: 'w0', 'binding:host_id': 'h2' } });
    await publisher.flushed();
    const [puts, deletes, full, g2] = [publisher.puts, publisher.deletes, publisher.fullSyncs, await generation('h2')];
    const made = await nova('POST', '/v2.0/ports', { port: { project_id: ALICE, network_id: net, device_id: 'v60', 'binding:host_id': 'h1' } });
    expect(made.status).toBe(201);
    await publisher.flushed();
    expect(publisher.puts - puts).toBe(2); // h1.port.<id> and h1.meta
    expect(publisher.deletes - deletes).toBe(0);
    expect(publisher.fullSyncs - full).toBe(0);
    expect(await generation('h2')).toBe(g2); // a MAC_FILTERED port is no business of h2's
    // and a deletion is one delete plus the meta
    expect((await alice('DELETE', `/v2.0/ports/${made.body.port.id}`)).status).toBe(204);
    await publisher.flushed();
    expect([publisher.puts - puts, publisher.deletes - deletes]).toEqual([3, 1]);
    await expectConverged();
  });

  it('a host joining or leaving a VXLAN network rewrites that network on the other hosts', async () => {
    const net = (await alice('POST', '/v2.0/networks', { network: { name: 'overlay', type: 'VXLAN' } })).body.network.id as string;
    await nova('POST', '/v2.0/ports', { port: { project_id: ALICE, network_id: net, device_id: 'x1', 'binding:host_id': 'h1' } });
    await publisher.flushed();
    const g3 = await generation('h3');
    const remotesOnH1 = async (): Promise<unknown> => JSON.parse((await kv.get(`h1.net.${net}`))?.string() ?? 'null')?.remotes;
    expect(await remotesOnH1()).toEqual([]);
    const joined = await nova('POST', '/v2.0/ports', { port: { project_id: ALICE, network_id: net, device_id: 'x2', 'binding:host_id': 'h2' } });
    await publisher.flushed();
    expect(await remotesOnH1()).toEqual(['10.90.0.2']);
    // a second port of h2 on the network changes nothing for h1
    const g1 = await generation('h1');
    const second = await nova('POST', '/v2.0/ports', { port: { project_id: ALICE, network_id: net, device_id: 'x3', 'binding:host_id': 'h2' } });
    await publisher.flushed();
    expect(await generation('h1')).toBe(g1);
    expect(await generation('h3')).toBe(g3);
    // h2 leaves when its last port goes
    await alice('DELETE', `/v2.0/ports/${second.body.port.id}`);
    await publisher.flushed();
    expect(await remotesOnH1()).toEqual(['10.90.0.2']);
    await alice('DELETE', `/v2.0/ports/${joined.body.port.id}`);
    await publisher.flushed();
    expect(await remotesOnH1()).toEqual([]);
    await expectConverged();
  });

  it('after any sequence of API changes, every host holds exactly its full desired state', async () => {
    const random = prng(20261129);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
    const flat = (await alice('POST', '/v2.0/networks', { network: { name: 'seq-flat', type: 'MAC_FILTERED' } })).body.network.id as string;
    const overlay = (await alice('POST', '/v2.0/networks', { network: { name: 'seq-overlay', type: 'VXLAN' } })).body.network.id as string;
    const hostOrNone = (): string | null => (random() < 0.1 ? null : pick(HOSTS));
    const fips: string[] = [];
    const counts: Record<string, number> = {};
    const fullBefore = publisher.fullSyncs;
    for (let step = 0; step < 160; step++) {
      const ports = (await alice('GET', '/v2.0/ports')).body.ports as { id: string; device_id: string; network_id: string }[];
      const mine = ports.filter((p) => p.network_id === flat || p.network_id === overlay);
      const r = random();
      let op: string;
      if (r < 0.35 || mine.length < 3) {
        op = 'create';
        const res = await nova('POST', '/v2.0/ports', { port: { project_id: ALICE, network_id: pick([flat, overlay]), device_id: `s${Math.floor(random() * 12)}`, 'binding:host_id': hostOrNone() } });
        expect([201, 413]).toContain(res.status); // 413: the device has all its NICs
      } else if (r < 0.55) {
        op = 'delete';
        expect((await alice('DELETE', `/v2.0/ports/${pick(mine).id}`)).status).toBe(204);
      } else if (r < 0.7) {
        op = 'move';
        expect((await nova('PUT', `/v2.0/ports/${pick(mine).id}`, { port: { 'binding:host_id': hostOrNone() } })).status).toBe(200);
      } else if (r < 0.78) {
        op = 'firewall';
        expect((await alice('PUT', `/v2.0/ports/${pick(mine).id}`, { port: { firewall_profile: pick(['DISABLED', 'ENABLED', 'PROTECTED']) } })).status).toBe(200);
      } else if (r < 0.88) {
        op = 'floating ip';
        if (fips.length < 3) fips.push((await alice('POST', '/v2.0/floatingips', { floatingip: {} })).body.floatingip.id as string);
        const fip = pick(fips);
        const state = (await alice('GET', `/v2.0/floatingips/${fip}`)).body.floatingip as { port_id: string | null };
        const target = pick(mine);
        const res = state.port_id ? await alice('PUT', `/v2.0/floatingips/${fip}`, { floatingip: { port_id: null } }) : await alice('PUT', `/v2.0/floatingips/${fip}`, { floatingip: { port_id: target.id } });
        expect([200, 400, 413]).toContain(res.status); // 400: an unbound device has no host to attach on
      } else if (r < 0.94) {
        op = 'underlay';
        const h = pick(HOSTS);
        ctl.hooks.reportHeartbeat({ hostId: h, version: 'test', underlayAddress: `10.90.${Math.floor(random() * 4)}.${HOSTS.indexOf(h) + 1}` });
        await ctl.service.settled();
      } else {
        op = 'subnet';
        const res = await alice('POST', '/v2.0/subnets', { subnet: { network_id: pick([flat, overlay]), cidr: `fd00:${step.toString(16)}::/64`, ip_version: 6 } });
        expect(res.status).toBe(201);
      }
      counts[op] = (counts[op] ?? 0) + 1;
      if (step % 8 === 7) await expectConverged();
    }
    await expectConverged();
    // every kind of change was exercised, and all of them through the scoped path
    expect(Object.keys(counts).sort()).toEqual(['create', 'delete', 'firewall', 'floating ip', 'move', 'subnet', 'underlay']);
    expect(publisher.fullSyncs).toBe(fullBefore);
  });
});
