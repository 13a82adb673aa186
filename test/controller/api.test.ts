// The Neutron-style API over real HTTP on loopback: the seeds' behaviours and error messages,
// validation naming the field, cross-project isolation, and the per-host desired state.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningController } from '../../src/controller/server.js';
import { validateHostState } from '../../src/state/validate.js';
import { ALICE, caller, identities, testController } from './fixture.js';

let ctl: RunningController;
let alice: ReturnType<typeof caller>, bob: ReturnType<typeof caller>, admin: ReturnType<typeof caller>, nova: ReturnType<typeof caller>;

beforeAll(async () => {
  ctl = await testController();
  ({ alice, bob, admin, nova } = identities(ctl.url));
});
afterAll(async () => ctl?.close());

describe('controller API', () => {
  it('answers version discovery and refuses bad credentials', async () => {
    const v = (await fetch(`${ctl.url}/`).then((r) => r.json())) as { versions: { id: string }[] };
    expect(v.versions[0]?.id).toBe('v2.0');
    const bad = await caller(ctl.url, 'alice', 'wrong')('GET', '/v2.0/networks');
    expect(bad.status).toBe(401);
  });

  it('lists the public network and creates a private one with the next /24 (seeds)', async () => {
    const list = await alice('GET', '/v2.0/networks');
    expect(list.body.networks.map((n: { name: string }) => n.name)).toEqual(['public']);
    expect(list.body.networks[0]).toMatchObject({ 'router:external': true, type: 'IP_LESS_ROUTED', status: 'ACTIVE' });
    const c = await alice('POST', '/v2.0/networks', { network: { name: 'My Private Net' } });
    expect(c.status).toBe(201);
    expect(c.body.network).toMatchObject({ name: 'My Private Net', type: 'MAC_FILTERED', public: false, status: 'ACTIVE', tenant_id: 's0m3-u53r-1d' });
    const sub = await alice('GET', `/v2.0/subnets/${c.body.network.subnets[0]}`);
    expect(sub.body.subnet.cidr).toBe('192.168.1.0/24');
    const c2 = await alice('POST', '/v2.0/networks', { network: { name: 'second' } });
    expect((await alice('GET', `/v2.0/subnets/${c2.body.network.subnets[0]}`)).body.subnet.cidr).toBe('192.168.2.0/24');
  });

  it('rejects invalid input with 400 naming the field', async () => {
    const r = await alice('POST', '/v2.0/networks', { network: { name: 'x', cidr: '10.0.0.5/24' } });
    expect(r.status).toBe(400);
    expect(r.body.NeutronError.message).toBe("Invalid input for cidr. Reason: '10.0.0.5/24' has host bits set (the network is 10.0.0.0/24).");
    const t = await alice('POST', '/v2.0/networks', { network: { name: 'x', type: 'PHYSICAL_VLAN' } });
    expect(t.body.NeutronError.message).toMatch(/Invalid input for type\. Reason: 'PHYSICAL_VLAN' is not enabled here/);
    const p = await alice('POST', '/v2.0/ports', { port: { network_id: '1', fixed_ips: [{ ip_address: 'nope' }] } });
    expect(p.body.NeutronError.message).toBe("Invalid input for fixed_ips[0].ip_address. Reason: 'nope' is not an IP address.");
    const b = await alice('POST', '/v2.0/ports', { nope: 1 });
    expect(b.body.NeutronError.message).toMatch(/Invalid input for port/);
    const dup = await alice('POST', '/v2.0/networks', { network: { name: 'dup', cidr: '192.168.1.0/24' } });
    expect(dup.status).toBe(409);
    expect(dup.body.NeutronError.message).toBe('CIDR 192.168.1.0/24 is already in use by network 2');
    const u = await alice('PUT', `/v2.0/subnets/1`, { subnet: { cidr: '10.1.0.0/24' } });
    expect(u.body.NeutronError.message).toBe("Invalid input for cidr. Reason: a subnet's CIDR cannot be changed once created.");
  });

  it('connects devices, names NICs nic-<device>-<n>, and refuses a used address with 409 (seeds)', async () => {
    const pub = '1';
    // the VM manager plugs alice's server 141 into her network on h1
    const p1 = await nova('POST', '/v2.0/ports', { port: { network_id: '2', device_id: '141', 'binding:host_id': 'h1', project_id: ALICE } });
    expect(p1.status).toBe(201);
    expect(p1.body.port).toMatchObject({ name: 'nic-141-0', status: 'BUILD', 'binding:host_id': 'h1', device_id: '141', project_id: ALICE });
    expect(p1.body.port.fixed_ips[0].ip_address).toBe('192.168.1.1');
    // the create answer is built from what was inserted: it is what a read returns
    expect((await nova('GET', `/v2.0/ports/${p1.body.port.id}`)).body.port).toEqual(p1.body.port);
    // alice sees her port without the binding attributes
    const { 'binding:host_id': _h, 'binding:profile': _p, 'binding:migration': _m, ...unbound } = p1.body.port;
    expect((await alice('GET', `/v2.0/ports/${p1.body.port.id}`)).body.port).toEqual(unbound);
    const fip = await alice('POST', '/v2.0/floatingips', { floatingip: { floating_network_id: pub } });
    expect(fip.body.floatingip.floating_ip_address).toBe('192.168.3.5');
    const att = await alice('POST', `/v2.0/floatingips/${fip.body.floatingip.id}/attach`, { device_id: '141' });
    expect(att.body.floatingip).toMatchObject({ instance_id: '141', fixed_ip_address: '192.168.3.5' });
    const again = await alice('POST', `/v2.0/floatingips/${fip.body.floatingip.id}/attach`, { device_id: '142' });
    expect(again.status).toBe(409);
    expect(again.body.NeutronError.message).toBe("IP address '192.168.3.5' is already in use");
    const direct = await alice('POST', '/v2.0/ports', { port: { network_id: pub, device_id: '142', fixed_ips: [{ ip_address: '192.168.3.5' }] } });
    expect(direct.status).toBe(409);
    expect(direct.body.NeutronError.message).toBe("IP address '192.168.3.5' is already in use");
  });

  it('enforces the floating IP quota with the seeds message (413)', async () => {
    await alice('POST', '/v2.0/floatingips', { floatingip: {} });
    await alice('POST', '/v2.0/floatingips', { floatingip: {} });
    const over = await alice('POST', '/v2.0/floatingips', { floatingip: {} });
    expect(over.status).toBe(413);
    expect(over.body.NeutronError.message).toBe("Limit for resource 'Floating IP address' exceeded for your account. Available: 0, Requested: 1");
  });

  it('refuses to delete the public network and networks in use (403), unknown ids (404)', async () => {
    const pub = await alice('DELETE', '/v2.0/networks/1');
    expect(pub.status).toBe(403);
    expect(pub.body.NeutronError).toMatchObject({ message: 'Network with id 1 is in use', detail: 'FORBIDDEN forbidden (Can not delete the public network.)' });
    const used = await alice('DELETE', '/v2.0/networks/2');
    expect(used.status).toBe(403);
    expect(used.body.NeutronError.message).toBe('Network with id 2 is in use');
    const missing = await alice('DELETE', '/v2.0/networks/999');
    expect(missing.status).toBe(404);
    expect(missing.body.NeutronError.message).toBe('Network 999 could not be found');
  });

  it('quotas per project in Neutron shapes: its own for a user, any for an admin, 404 naming a project not visible', async () => {
    const q = await alice('GET', '/v2.0/quotas/s0m3-u53r-1d');
    expect(q.status).toBe(200);
    expect(q.body.quota).toEqual({ network: 5, subnet: -1, port: 1250, floatingip: 3 });
    const d = await alice('GET', '/v2.0/quotas/s0m3-u53r-1d/details.json');
    expect(d.body.quota).toMatchObject({ network: { limit: 5, used: 2, reserved: 0 }, floatingip: { limit: 3, used: 3, reserved: 0 }, subnet: { limit: -1, used: 2, reserved: 0 } });
    expect((await alice('GET', '/v2.0/quotas/s0m3-u53r-1d/default')).body.quota).toEqual({ network: 5, subnet: -1, port: 1250, floatingip: 3 });
    const hidden = await bob('GET', '/v2.0/quotas/s0m3-u53r-1d/details.json');
    expect(hidden.status).toBe(404);
    expect(hidden.body.NeutronError.message).toBe('Project s0m3-u53r-1d could not be found');
    const other = await admin('GET', '/v2.0/quotas/other-project/details');
    expect(other.body.quota).toMatchObject({ network: { limit: 5, used: 0 }, floatingip: { limit: 3, used: 0 } });
    expect((await admin('GET', '/v2.0/quotas/nope')).body.NeutronError.message).toBe('Project nope could not be found');
    expect((await alice('GET', '/projects')).body.projects.map((x: { id: string }) => x.id)).toEqual(['s0m3-u53r-1d']);
    expect((await admin('GET', '/v3/projects')).body.projects.map((x: { id: string }) => x.id)).toEqual(['admin', 'other-project', 's0m3-u53r-1d', 'service']);
  });

  it('keeps projects apart', async () => {
    const list = await bob('GET', '/v2.0/networks');
    expect(list.body.networks.map((n: { name: string }) => n.name)).toEqual(['public']);
    expect((await bob('GET', '/v2.0/networks/2')).status).toBe(404);
    expect((await bob('DELETE', '/v2.0/networks/2')).status).toBe(404);
    expect((await bob('GET', '/v2.0/ports')).body.ports).toEqual([]);
    expect((await bob('POST', '/v2.0/ports', { port: { network_id: '2', device_id: 'x' } })).status).toBe(404);
    expect((await bob('GET', '/v2.0/floatingips')).body.floatingips).toEqual([]);
    expect((await bob('GET', '/v2.0/plumb/hosts/h1/desired-state')).status).toBe(403);
  });

  it("computes each host's desired state, which the agent accepts without rejection", async () => {
    await nova('POST', '/v2.0/ports', { port: { network_id: '2', device_id: '142', 'binding:host_id': 'h2', project_id: ALICE } });
    ctl.hooks.reportHeartbeat({ hostId: 'h1', underlayAddress: '10.90.0.1', version: 't' });
    ctl.hooks.reportHeartbeat({ hostId: 'h2', underlayAddress: '10.90.0.2', version: 't' });
    const d = await admin('GET', '/v2.0/plumb/hosts/h1/desired-state');
    const v = validateHostState(d.body);
    expect(v.rejections).toEqual([]);
    expect(v.state.ports.map((p) => p.addresses[0]).sort()).toEqual(['192.168.1.1', '192.168.3.5']);
    expect(v.state.networks.map((n) => n.type).sort()).toEqual(['IP_LESS_ROUTED', 'MAC_FILTERED']);
    expect((await alice('GET', '/v2.0/agents')).status).toBe(403);
    const agents = await admin('GET', '/v2.0/agents');
    expect(agents.body.agents.map((a: { host: string; alive: boolean }) => [a.host, a.alive])).toEqual([['h1', true], ['h2', true]]);
  });

  it('turns a port ACTIVE on the agent report of its current revision, and ignores stale ones', async () => {
    const { body } = await nova('POST', '/v2.0/ports', { port: { network_id: '2', device_id: '150', 'binding:host_id': 'h1', project_id: ALICE } });
    // reports are recorded in the background (the bus does not wait): settled() waits for them
    ctl.hooks.reportPortStatus({ hostId: 'h1', portId: body.port.id, status: 'ACTIVE', revision: 0, generation: 1 });
    await ctl.service.settled();
    expect((await alice('GET', `/v2.0/ports/${body.port.id}`)).body.port.status).toBe('BUILD');
    ctl.hooks.reportPortStatus({ hostId: 'h2', portId: body.port.id, status: 'ACTIVE', revision: 1, generation: 1 });
    await ctl.service.settled();
    expect((await alice('GET', `/v2.0/ports/${body.port.id}`)).body.port.status).toBe('BUILD');
    ctl.hooks.reportPortStatus({ hostId: 'h1', portId: body.port.id, status: 'ACTIVE', revision: 1, generation: 1 });
    await ctl.service.settled();
    expect((await alice('GET', `/v2.0/ports/${body.port.id}`)).body.port.status).toBe('ACTIVE');
    // moving it to h2 (live migration) is a new revision: BUILD until h2 reports
    const moved = await nova('PUT', `/v2.0/ports/${body.port.id}`, { port: { 'binding:host_id': 'h2' } });
    expect(moved.body.port).toMatchObject({ status: 'BUILD', 'binding:host_id': 'h2' });
    const h1 = validateHostState(await ctl.hooks.desiredState('h1'));
    const h2 = validateHostState(await ctl.hooks.desiredState('h2'));
    expect(h1.state.ports.some((p) => p.id === body.port.id)).toBe(false);
    expect(h2.state.ports.find((p) => p.id === body.port.id)?.revision).toBe(2);
  });
});
