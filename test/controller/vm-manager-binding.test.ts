// The VM manager binds a port it did not create the device for (Ganeti's tapN, libvirt's own
// taps): it finds the port by MAC, then sets binding:host_id and a binding:profile naming the
// device and asking plumb to adopt it. Real HTTP on loopback; the host's desired state checked.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningController } from '../../src/controller/server.js';
import { ALICE, caller, identities, testController } from './fixture.js';
import { until } from '../helpers/until.js';

let ctl: RunningController;
let alice: ReturnType<typeof caller>, nova: ReturnType<typeof caller>;
let net = '';
const message = (r: { body: Record<string, any> }): string => r.body.NeutronError?.message as string;

beforeAll(async () => {
  ctl = await testController();
  ({ alice, nova } = identities(ctl.url));
  net = (await alice('POST', '/v2.0/networks', { network: { name: 'g-net' } })).body.network.id as string;
});
afterAll(async () => ctl?.close());

describe('binding a port to a device the VM manager made', () => {
  it('finds the port by MAC (any case) and rebinds it with ifname and adopt; the host document carries both', async () => {
    const made = (await alice('POST', '/v2.0/ports', { port: { network_id: net, device_id: 'inst1' } })).body.port;
    const upper = String(made.mac_address).toUpperCase();
    const found = await nova('GET', `/v2.0/ports?mac_address=${encodeURIComponent(upper)}`);
    expect(found.body.ports.map((p: { id: string }) => p.id)).toEqual([made.id]);
    expect((await nova('GET', '/v2.0/ports?mac_address=aa:bb:cc:dd:ee:ff')).body.ports).toEqual([]);

    const bound = await nova('PUT', `/v2.0/ports/${made.id}`, { port: { 'binding:host_id': 'node1', 'binding:profile': { ifname: 'tap3', adopt: true } } });
    expect(bound.status).toBe(200);
    expect(bound.body.port).toMatchObject({ 'binding:host_id': 'node1', 'binding:profile': { ifname: 'tap3', adopt: true }, status: 'BUILD' });
    const doc = await ctl.hooks.desiredState('node1');
    expect(doc.ports).toEqual([expect.objectContaining({ id: made.id, mac: made.mac_address, kind: 'tap', ifname: 'tap3', tap: { adopt: true } })]);

    // the profile alone may change (a new tap after a restart): the port is rebuilt
    const moved = await nova('PUT', `/v2.0/ports/${made.id}`, { port: { 'binding:profile': { ifname: 'tap4', adopt: true } } });
    expect(moved.status).toBe(200);
    expect((await ctl.hooks.desiredState('node1')).ports).toEqual([expect.objectContaining({ ifname: 'tap4' })]);
  });

  it('refuses a project member, a veth to adopt, and a device name another port of the host holds, naming the field', async () => {
    const a = (await alice('POST', '/v2.0/ports', { port: { network_id: net, device_id: 'inst2' } })).body.port;
    const b = (await alice('POST', '/v2.0/ports', { port: { network_id: net, device_id: 'inst3' } })).body.port;
    const mine = await alice('PUT', `/v2.0/ports/${a.id}`, { port: { 'binding:profile': { ifname: 'tap9', adopt: true } } });
    expect(mine.status).toBe(403);
    expect(message(mine)).toMatch(/^binding:profile may be set only by the admin or service role \(rule:update_port:binding:profile/);
    const veth = await nova('PUT', `/v2.0/ports/${a.id}`, { port: { 'binding:profile': { kind: 'veth', netns: 'vm-x', adopt: true } } });
    expect(veth.status).toBe(400);
    expect(message(veth)).toMatch(/binding:profile\.adopt.*only a tap can be adopted/);
    expect((await nova('PUT', `/v2.0/ports/${a.id}`, { port: { 'binding:host_id': 'node2', 'binding:profile': { ifname: 'tap5', adopt: true } } })).status).toBe(200);
    const clash = await nova('PUT', `/v2.0/ports/${b.id}`, { port: { 'binding:host_id': 'node2', 'binding:profile': { ifname: 'tap5', adopt: true } } });
    expect(clash.status).toBe(409);
    expect(message(clash)).toBe(`binding:profile.ifname 'tap5' is already the device of port ${a.id} on host node2; unbind that port first`);
    // nothing half-applied: b is still unbound
    expect((await nova('GET', `/v2.0/ports/${b.id}`)).body.port['binding:host_id']).toBe('');
    const bad = await nova('PUT', `/v2.0/ports/${b.id}`, { port: { 'binding:profile': { ifname: 'x'.repeat(16) } } });
    expect(bad.status).toBe(400);
    expect(message(bad)).toMatch(/^Invalid input for binding:profile\.ifname/);
  });
});

describe('live migration: binding:profile.migrating_to, then the host change', () => {
  it('stands the port by on the destination, reports its readiness apart, and moves it for good on the host change', async () => {
    const made = (await nova('POST', '/v2.0/ports', { port: { network_id: net, project_id: ALICE, device_id: 'mig1', 'binding:host_id': 'src1' } })).body.port;
    const id = made.id as string;
    ctl.hooks.reportPortStatus({ hostId: 'src1', portId: id, status: 'ACTIVE', revision: 1, generation: 1 });
    await until(async () => ((await nova('GET', `/v2.0/ports/${id}`)).body.port.status === 'ACTIVE' ? true : undefined), 5_000, 20);
    expect((await ctl.hooks.desiredState('dst1')).ports ?? []).toEqual([]);

    const start = await nova('PUT', `/v2.0/ports/${id}`, { port: { 'binding:profile': { migrating_to: 'dst1' } } });
    expect(start.status).toBe(200);
    // the source keeps serving: nothing it plugs changed, so the port stays ACTIVE there
    expect(start.body.port).toMatchObject({ status: 'ACTIVE', 'binding:host_id': 'src1', 'binding:migration': { host: 'dst1', status: 'BUILD', status_reason: null } });
    const src = (await ctl.hooks.desiredState('src1')).ports ?? [];
    const dst = (await ctl.hooks.desiredState('dst1')).ports ?? [];
    expect(src).toEqual([expect.not.objectContaining({ standby: true })]);
    expect(dst).toEqual([expect.objectContaining({ id, mac: made.mac_address, standby: true })]);
    // the destination's report is its readiness, not the port's status
    const rev = (dst[0] as { revision: number }).revision;
    ctl.hooks.reportPortStatus({ hostId: 'dst1', portId: id, status: 'ACTIVE', revision: rev, generation: 1 });
    const ready = await until(async () => {
      const p = (await nova('GET', `/v2.0/ports/${id}`)).body.port;
      return p['binding:migration']?.status === 'ACTIVE' ? p : undefined;
    }, 5_000, 20);
    expect(ready.status).toBe('ACTIVE');
    // a project member sees none of it
    expect((await alice('GET', `/v2.0/ports/${id}`)).body.port).not.toHaveProperty('binding:migration');

    // the switch: Nova binds the port to the destination and drops migrating_to in one PUT
    const done = await nova('PUT', `/v2.0/ports/${id}`, { port: { 'binding:host_id': 'dst1', 'binding:profile': {} } });
    expect(done.body.port).toMatchObject({ status: 'BUILD', 'binding:host_id': 'dst1', 'binding:migration': null });
    expect((await ctl.hooks.desiredState('src1')).ports ?? []).toEqual([]);
    expect((await ctl.hooks.desiredState('dst1')).ports).toEqual([expect.not.objectContaining({ standby: true })]);
  });

  it('orders the switch: the new host keeps the port standing by until the old host applied the change', async () => {
    ctl.hooks.reportHeartbeat({ hostId: 'src4', version: 'test' }); // the old host's agent is alive
    const made = (await nova('POST', '/v2.0/ports', { port: { network_id: net, project_id: ALICE, device_id: 'mig4', 'binding:host_id': 'src4' } })).body.port;
    const id = made.id as string;
    await nova('PUT', `/v2.0/ports/${id}`, { port: { 'binding:profile': { migrating_to: 'dst4' } } });
    const switched = await nova('PUT', `/v2.0/ports/${id}`, { port: { 'binding:host_id': 'dst4', 'binding:profile': {} } });
    expect(switched.body.port).toMatchObject({ 'binding:host_id': 'dst4', status: 'BUILD' });
    const src = await ctl.hooks.desiredState('src4');
    expect(src.ports ?? []).toEqual([]);
    const [standing] = (await ctl.hooks.desiredState('dst4')).ports ?? [];
    expect(standing, 'still standing by: the old host has not applied its removal yet').toMatchObject({ id, standby: true });
    // the new host's report of the standby port does not make it ACTIVE
    ctl.hooks.reportPortStatus({ hostId: 'dst4', portId: id, status: 'ACTIVE', revision: (standing as { revision: number }).revision, generation: 1 });
    await ctl.service.settled();
    expect((await nova('GET', `/v2.0/ports/${id}`)).body.port.status).toBe('BUILD');
    // another change meanwhile leaves the switch waiting
    expect((await nova('PUT', `/v2.0/ports/${id}`, { port: { firewall_profile: 'ENABLED' } })).status).toBe(200);
    expect((await ctl.hooks.desiredState('dst4')).ports).toEqual([expect.objectContaining({ standby: true, firewallProfile: 'ENABLED' })]);
    // an older generation of the old host changes nothing; the one without the port ends the switch
    ctl.hooks.reportApplied({ hostId: 'src4', generation: (src.generation ?? 0) - 1 });
    await ctl.service.settled();
    expect((await ctl.hooks.desiredState('dst4')).ports).toEqual([expect.objectContaining({ standby: true })]);
    ctl.hooks.reportApplied({ hostId: 'src4', generation: src.generation ?? 0 });
    const active = await until(async () => {
      const [p] = (await ctl.hooks.desiredState('dst4')).ports ?? [];
      return p && !(p as { standby?: boolean }).standby ? (p as { revision: number }) : undefined;
    }, 5_000, 20);
    expect(active.revision).toBeGreaterThan((standing as { revision: number }).revision);
    ctl.hooks.reportPortStatus({ hostId: 'dst4', portId: id, status: 'ACTIVE', revision: active.revision, generation: 2 });
    await until(async () => ((await nova('GET', `/v2.0/ports/${id}`)).body.port.status === 'ACTIVE' ? true : undefined), 5_000, 20);
  });

  it('orders a move with no standby before it too (Ganeti binds a routed NIC where the instance now runs)', async () => {
    ctl.hooks.reportHeartbeat({ hostId: 'src6', version: 'test' });
    const made = (await nova('POST', '/v2.0/ports', { port: { network_id: net, project_id: ALICE, device_id: 'mig6', 'binding:host_id': 'src6', 'binding:profile': { ifname: 'tap0', adopt: true } } })).body.port;
    const id = made.id as string;
    const moved = await nova('PUT', `/v2.0/ports/${id}`, { port: { 'binding:host_id': 'dst6', 'binding:profile': { ifname: 'tap0', adopt: true } } });
    expect(moved.body.port).toMatchObject({ 'binding:host_id': 'dst6', status: 'BUILD', 'binding:migration': null });
    const src = await ctl.hooks.desiredState('src6');
    expect(src.ports ?? []).toEqual([]);
    expect((await ctl.hooks.desiredState('dst6')).ports, 'stands by until src6 applied its removal').toEqual([expect.objectContaining({ id, standby: true, tap: expect.objectContaining({ adopt: true }) })]);
    ctl.hooks.reportApplied({ hostId: 'src6', generation: src.generation ?? 0 });
    await until(async () => {
      const [p] = (await ctl.hooks.desiredState('dst6')).ports ?? [];
      return p && !(p as { standby?: boolean }).standby ? true : undefined;
    }, 5_000, 20);
    // a host with no live agent (never heard from) gives the port up at once
    const other = (await nova('POST', '/v2.0/ports', { port: { network_id: net, project_id: ALICE, device_id: 'mig7', 'binding:host_id': 'gone7' } })).body.port;
    await nova('PUT', `/v2.0/ports/${other.id}`, { port: { 'binding:host_id': 'dst7' } });
    expect((await ctl.hooks.desiredState('dst7')).ports).toEqual([expect.not.objectContaining({ standby: true })]);
  });

  it('a switch whose old host never confirms completes once overdue; with no live old host, at once', async () => {
    ctl.hooks.reportHeartbeat({ hostId: 'src5', version: 'test' });
    const made = (await nova('POST', '/v2.0/ports', { port: { network_id: net, project_id: ALICE, device_id: 'mig5', 'binding:host_id': 'src5' } })).body.port;
    await nova('PUT', `/v2.0/ports/${made.id}`, { port: { 'binding:profile': { migrating_to: 'dst5' } } });
    await nova('PUT', `/v2.0/ports/${made.id}`, { port: { 'binding:host_id': 'dst5', 'binding:profile': {} } });
    expect((await ctl.hooks.desiredState('dst5')).ports).toEqual([expect.objectContaining({ standby: true })]);
    expect(await ctl.service.activateOverdue(60_000), 'not overdue yet').toBe(0);
    await new Promise((r) => setTimeout(r, 20));
    expect(await ctl.service.activateOverdue(10)).toBe(1);
    expect((await ctl.hooks.desiredState('dst5')).ports).toEqual([expect.not.objectContaining({ standby: true })]);
    // src1 of the first test never sent a heartbeat: its switch was immediate (checked there)
  });

  it('an aborted migration (migrating_to removed) takes the port off the destination only', async () => {
    const made = (await nova('POST', '/v2.0/ports', { port: { network_id: net, project_id: ALICE, device_id: 'mig2', 'binding:host_id': 'src2' } })).body.port;
    await nova('PUT', `/v2.0/ports/${made.id}`, { port: { 'binding:profile': { migrating_to: 'dst2' } } });
    expect((await ctl.hooks.desiredState('dst2')).ports).toHaveLength(1);
    const abort = await nova('PUT', `/v2.0/ports/${made.id}`, { port: { 'binding:profile': {} } });
    expect(abort.body.port).toMatchObject({ 'binding:host_id': 'src2', 'binding:migration': null });
    expect((await ctl.hooks.desiredState('dst2')).ports ?? []).toEqual([]);
    expect((await ctl.hooks.desiredState('src2')).ports).toHaveLength(1);
    // deleting a port mid-migration takes it off both hosts
    await nova('PUT', `/v2.0/ports/${made.id}`, { port: { 'binding:profile': { migrating_to: 'dst2' } } });
    expect((await nova('DELETE', `/v2.0/ports/${made.id}`)).status).toBe(204);
    expect((await ctl.hooks.desiredState('dst2')).ports ?? []).toEqual([]);
    expect((await ctl.hooks.desiredState('src2')).ports ?? []).toEqual([]);
  });

  it('refuses migrating_to on a new port or an unbound one, naming the field', async () => {
    const created = await nova('POST', '/v2.0/ports', { port: { network_id: net, project_id: ALICE, 'binding:host_id': 'src3', 'binding:profile': { migrating_to: 'dst3' } } });
    expect(created.status).toBe(400);
    expect(message(created)).toMatch(/^Invalid input for binding:profile\.migrating_to\. Reason: a new port has no VM to migrate/);
    const unbound = (await alice('POST', '/v2.0/ports', { port: { network_id: net } })).body.port;
    const r = await nova('PUT', `/v2.0/ports/${unbound.id}`, { port: { 'binding:profile': { migrating_to: 'dst3' } } });
    expect(r.status).toBe(400);
    expect(message(r)).toBe('Invalid input for binding:profile.migrating_to. Reason: the port is bound to no host: a live migration starts from one (binding:host_id).');
  });
});
