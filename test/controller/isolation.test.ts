// Issue 26: one project can never reach into another. Each finding of the outside probe, as a
// well-formed request with bad intent, over real HTTP on loopback; each failed on the code before.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { freePort } from '../../src/bus/nats-server.js';
import { LoginThrottle } from '../../src/controller/login-throttle.js';
import type { RunningController } from '../../src/controller/server.js';
import { validateHostState } from '../../src/state/validate.js';
import { until } from '../helpers/until.js';
import { ALICE, caller, identities, testController } from './fixture.js';

let ctl: RunningController;
let alice: ReturnType<typeof caller>, bob: ReturnType<typeof caller>, admin: ReturnType<typeof caller>, nova: ReturnType<typeof caller>;
let aliceNet = '';

const message = (r: { body: Record<string, any> }): string => r.body.NeutronError?.message as string;

beforeAll(async () => {
  // IPv4 and IPv6 on the public network, as in the lab
  ctl = await testController({
    publicNetworks: [{ name: 'public', uplink: 'pub0', routingTable: 100, subnets: [{ cidr: '192.168.3.0/24', gateway: '192.168.3.1', allocationPools: [{ start: '192.168.3.5', end: '192.168.3.20' }] }, { cidr: '2001:db8:100::/64', gateway: '2001:db8:100::1' }] }],
  });
  ({ alice, bob, admin, nova } = identities(ctl.url));
  aliceNet = (await alice('POST', '/v2.0/networks', { network: { name: 'a-net' } })).body.network.id as string;
});
afterAll(async () => ctl?.close());

describe('binding attributes are for the VM manager only (finding 1)', () => {
  it('a project member gets 403 naming binding:host_id or binding:profile, on create and on update', async () => {
    const host = await alice('POST', '/v2.0/ports', { port: { network_id: aliceNet, 'binding:host_id': 'h1' } });
    expect(host.status).toBe(403);
    expect(host.body.NeutronError.type).toBe('PolicyNotAuthorized');
    expect(message(host)).toBe('binding:host_id may be set only by the admin or service role (rule:create_port:binding:host_id is disallowed by policy)');
    const profile = await alice('POST', '/v2.0/ports', { port: { network_id: aliceNet, 'binding:profile': { kind: 'veth', netns: 'vm-bob' } } });
    expect(profile.status).toBe(403);
    expect(message(profile)).toMatch(/^binding:profile may be set only by the admin or service role/);
    const mine = await alice('POST', '/v2.0/ports', { port: { network_id: aliceNet } });
    expect(mine.status).toBe(201);
    const move = await alice('PUT', `/v2.0/ports/${mine.body.port.id}`, { port: { 'binding:host_id': 'h2' } });
    expect(move.status).toBe(403);
    expect(message(move)).toMatch(/^binding:host_id may be set only by .*rule:update_port:binding:host_id/);
    const owner = await alice('POST', '/v2.0/ports', { port: { network_id: aliceNet, project_id: 'other-project' } });
    expect(owner.status).toBe(403);
    expect(message(owner)).toMatch(/^project_id may be set only by the admin or service role/);
    // nothing was half-applied: alice holds the one port she was allowed
    expect((await alice('GET', '/v2.0/ports')).body.ports).toHaveLength(1);
  });

  it('a project member never sees them; the VM manager and the admin do', async () => {
    const made = await nova('POST', '/v2.0/ports', { port: { network_id: aliceNet, device_id: 'vm1', project_id: ALICE, 'binding:host_id': 'h1', 'binding:profile': { kind: 'veth', netns: 'vm-vm1' } } });
    expect(made.status).toBe(201);
    expect(made.body.port).toMatchObject({ project_id: ALICE, 'binding:host_id': 'h1', 'binding:profile': { kind: 'veth', netns: 'vm-vm1' } });
    const seen = (await alice('GET', `/v2.0/ports/${made.body.port.id}`)).body.port;
    expect(seen).not.toHaveProperty('binding:host_id');
    expect(seen).not.toHaveProperty('binding:profile');
    for (const p of (await alice('GET', '/v2.0/ports')).body.ports) expect(Object.keys(p).filter((k) => k.startsWith('binding:'))).toEqual([]);
    expect((await admin('GET', `/v2.0/ports/${made.body.port.id}`)).body.port['binding:host_id']).toBe('h1');
    // a NIC alice adds to her device joins the device's host, without her naming it
    const second = await alice('POST', '/v2.0/ports', { port: { network_id: aliceNet, device_id: 'vm1' } });
    expect((await nova('GET', `/v2.0/ports/${second.body.port.id}`)).body.port['binding:host_id']).toBe('h1');
  });

  it("the VM manager's profile may name only an allowed namespace (controller), and the agent holds its own list", async () => {
    const sys = await nova('POST', '/v2.0/ports', { port: { network_id: aliceNet, project_id: ALICE, 'binding:host_id': 'h1', 'binding:profile': { kind: 'veth', netns: 'ns-system' } } });
    expect(sys.status).toBe(400);
    expect(message(sys)).toBe("Invalid input for binding:profile.netns. Reason: 'ns-system' is not in the controller's bindingProfile.netnsAllowed (vm-*).");
    // the agent: a veth into a namespace outside veth.netnsAllowed is rejected, the rest applies
    const doc = await ctl.hooks.desiredState('h1');
    const hostile = { ...doc, ports: [...((doc.ports ?? []) as object[]), { id: '999', network: aliceNet, mac: 'aa:00:01:00:00:99', addresses: [], kind: 'veth', veth: { netns: 'init-ns', peerName: 'eth0' } }] };
    const v = validateHostState(hostile, { netnsAllowed: ['vm-*'] });
    expect(v.rejections).toEqual([{ kind: 'port', id: '999', field: expect.stringMatching(/^ports\[\d+\]\.veth\.netns$/), reason: "'init-ns' is not in this host's veth.netnsAllowed (vm-*)" }]);
    expect(v.state.ports.map((p) => p.id)).toContain(String((await alice('GET', '/v2.0/ports')).body.ports[1].id));
    expect(validateHostState(hostile, { netnsAllowed: [] }).rejections.map((r) => r.reason)).toContain("'vm-vm1' is not in this host's veth.netnsAllowed (empty: no veth ports here)");
  });

  it('the floating-IP attach names a host only for binders', async () => {
    const fip = await alice('POST', '/v2.0/floatingips', { floatingip: {} });
    const r = await alice('POST', `/v2.0/floatingips/${fip.body.floatingip.id}/attach`, { device_id: 'vm1', host: 'h2' });
    expect(r.status).toBe(403);
    expect(message(r)).toMatch(/^host may be set only by the admin or service role/);
    expect((await alice('DELETE', `/v2.0/floatingips/${fip.body.floatingip.id}`)).status).toBe(204);
  });
});

describe("a device's namespace is its project's (finding 1, the lab's veth binding)", () => {
  const bindVm1 = (own: RunningController, project: string): Promise<{ status: number; body: Record<string, any> }> =>
    identities(own.url).nova('POST', '/v2.0/ports', { port: { network_id: '1', project_id: project, device_id: 'vm1', 'binding:host_id': 'h1' } });

  it('without {project} in the template, another project cannot bind a device whose namespace a project uses', async () => {
    const own = await testController({ portBinding: { kind: 'veth', netnsTemplate: 'vm-{device_id}' } });
    try {
      expect((await bindVm1(own, ALICE)).status).toBe(201);
      const bob = await bindVm1(own, 'other-project');
      expect(bob.status).toBe(409);
      expect(message(bob)).toBe("device_id 'vm1' would put this port into namespace vm-vm1, which a device of that id in another project uses (portBinding.netnsTemplate has no {project})");
      // moving an unbound port there is refused the same way
      const unbound = await identities(own.url).bob('POST', '/v2.0/ports', { port: { network_id: '1', device_id: 'vm1' } });
      expect((await identities(own.url).nova('PUT', `/v2.0/ports/${unbound.body.port.id}`, { port: { 'binding:host_id': 'h2' } })).status).toBe(409);
      const h1 = validateHostState(await own.hooks.desiredState('h1'));
      expect(h1.state.ports.map((p) => p.veth?.netns)).toEqual(['vm-vm1']);
    } finally {
      await own.close();
    }
  });

  it('with {project} in the template, each project gets its own namespace', async () => {
    const own = await testController({ portBinding: { kind: 'veth', netnsTemplate: 'vm-{project}-{device_id}' } });
    try {
      expect((await bindVm1(own, ALICE)).status).toBe(201);
      expect((await bindVm1(own, 'other-project')).status).toBe(201);
      const h1 = validateHostState(await own.hooks.desiredState('h1'), { netnsAllowed: ['vm-*'] });
      expect(h1.rejections).toEqual([]);
      expect(h1.state.ports.map((p) => p.veth?.netns).sort()).toEqual(['vm-other-project-vm1', `vm-${ALICE}-vm1`]);
    } finally {
      await own.close();
    }
  });
});

describe('a public address is a floating IP (finding 2)', () => {
  const usage = async (): Promise<number> => (await bob('GET', '/v2.0/quotas/other-project/details')).body.quota.floatingip.used as number;

  it('a port on the public network takes a floating IP (IPv6 rides along), counted, released with the port', async () => {
    const p = await bob('POST', '/v2.0/ports', { port: { network_id: '1' } });
    expect(p.status).toBe(201);
    expect(p.body.port.fixed_ips.map((f: { ip_address: string }) => f.ip_address)).toEqual(['192.168.3.5', '2001:db8:100::2']);
    expect(await usage()).toBe(1);
    const fips = (await bob('GET', '/v2.0/floatingips')).body.floatingips;
    expect(fips).toEqual([expect.objectContaining({ floating_ip_address: '192.168.3.5', port_id: p.body.port.id })]);
    expect((await bob('DELETE', `/v2.0/ports/${p.body.port.id}`)).status).toBe(204);
    expect(await usage()).toBe(0);
    expect((await bob('GET', '/v2.0/floatingips')).body.floatingips).toEqual([]);
  });

  it('at the quota, every way of asking gets the same 413 as floatingip create, and nothing is taken', async () => {
    for (let i = 0; i < 3; i++) expect((await bob('POST', '/v2.0/floatingips', { floatingip: {} })).status).toBe(201);
    const over = "Limit for resource 'Floating IP address' exceeded for your account. Available: 0, Requested: 1";
    expect(message(await bob('POST', '/v2.0/floatingips', { floatingip: {} }))).toBe(over);
    const onNetwork = await bob('POST', '/v2.0/ports', { port: { network_id: '1' } });
    expect([onNetwork.status, message(onNetwork)]).toEqual([413, over]);
    const subnets = (await bob('GET', '/v2.0/subnets')).body.subnets as { id: string; ip_version: number; network_id: string }[];
    const v4 = subnets.find((s) => s.network_id === '1' && s.ip_version === 4)?.id;
    const v6 = subnets.find((s) => s.network_id === '1' && s.ip_version === 6)?.id;
    const bySubnet = await bob('POST', '/v2.0/ports', { port: { network_id: '1', fixed_ips: [{ subnet_id: v4 }] } });
    expect([bySubnet.status, message(bySubnet)]).toEqual([413, over]);
    // the IPv6 address alone is not a way around it
    const v6only = await bob('POST', '/v2.0/ports', { port: { network_id: '1', fixed_ips: [{ subnet_id: v6 }] } });
    expect(v6only.status).toBe(400);
    expect(message(v6only)).toBe('Invalid input for fixed_ips[0]. Reason: a public IPv6 address comes only with an IPv4 floating IP on the same port; ask for both.');
    // a server connected to the public network through the CLI's path (a device's port)
    const server = await bob('POST', '/v2.0/ports', { port: { network_id: '1', device_id: 'bob-vm' } });
    expect(server.status).toBe(413);
    expect(await usage()).toBe(3);
    expect((await bob('GET', '/v2.0/ports')).body.ports).toEqual([]);
    for (const f of (await bob('GET', '/v2.0/floatingips')).body.floatingips) await bob('DELETE', `/v2.0/floatingips/${f.id}`);
  });

  it('a floating IP detached by name stays the project’s, even one a port took', async () => {
    const p = await bob('POST', '/v2.0/ports', { port: { network_id: '1', device_id: 'bob-vm' } });
    const fip = (await bob('GET', '/v2.0/floatingips')).body.floatingips[0];
    expect(fip.port_id).toBe(p.body.port.id);
    expect((await bob('PUT', `/v2.0/floatingips/${fip.id}`, { floatingip: { port_id: null } })).status).toBe(200);
    expect((await bob('GET', `/v2.0/ports/${p.body.port.id}`)).status).toBe(404);
    expect((await bob('GET', `/v2.0/floatingips/${fip.id}`)).body.floatingip).toMatchObject({ port_id: null, floating_ip_address: fip.floating_ip_address });
    expect(await usage()).toBe(1);
    await bob('DELETE', `/v2.0/floatingips/${fip.id}`);
  });
});

describe('devices belong to projects (finding 3)', () => {
  it("another project's ports named after your device neither count against it nor take its NIC names", async () => {
    const bobNet = (await bob('POST', '/v2.0/networks', { network: { name: 'b-net' } })).body.network.id as string;
    // nicsPerDevice is 15: bob fills "alice-vm" in his own project
    for (let i = 0; i < 15; i++) expect((await bob('POST', '/v2.0/ports', { port: { network_id: bobNet, device_id: 'alice-vm' } })).status).toBe(201);
    expect((await bob('POST', '/v2.0/ports', { port: { network_id: bobNet, device_id: 'alice-vm' } })).status).toBe(413);
    const mine = await alice('POST', '/v2.0/ports', { port: { network_id: aliceNet, device_id: 'alice-vm' } });
    expect(mine.status).toBe(201);
    expect(mine.body.port.name).toBe('nic-alice-vm-0');
    // alice's listing by device shows only her port
    expect((await alice('GET', '/v2.0/ports?device_id=alice-vm')).body.ports.map((p: { id: string }) => p.id)).toEqual([mine.body.port.id]);
  });
});

describe('no shared limit one project can use up', () => {
  it("the public network's device limit is not a pool the projects share (each is bounded by its floating-IP quota)", async () => {
    const own = await testController({ quotas: { networks: 5, floatingIps: 3, devicesPerNetwork: 1 } });
    try {
      const { alice: a, bob: b } = identities(own.url);
      expect((await b('POST', '/v2.0/ports', { port: { network_id: '1', device_id: 'b1' } })).status).toBe(201);
      expect((await a('POST', '/v2.0/ports', { port: { network_id: '1', device_id: 'a1' } })).status).toBe(201);
      // on a private network the limit holds
      const net = (await a('POST', '/v2.0/networks', { network: { name: 'n' } })).body.network.id as string;
      expect((await a('POST', '/v2.0/ports', { port: { network_id: net, device_id: 'a1' } })).status).toBe(201);
      const over = await a('POST', '/v2.0/ports', { port: { network_id: net, device_id: 'a2' } });
      expect([over.status, message(over)]).toEqual([413, "Limit for resource 'Devices per network' exceeded for your account. Available: 0, Requested: 1"]);
    } finally {
      await own.close();
    }
  });
});

describe('one spelling per address (finding 4)', () => {
  it('CIDRs and addresses are answered, stored and compared canonically', async () => {
    const odd = await alice('POST', '/v2.0/networks', { network: { name: 'odd', cidr: '10.82.0.0/024' } });
    expect(odd.status).toBe(201);
    const sub = (await alice('GET', `/v2.0/subnets/${odd.body.network.subnets[0]}`)).body.subnet;
    expect(sub.cidr).toBe('10.82.0.0/24');
    const dup = await alice('POST', '/v2.0/networks', { network: { name: 'dup', cidr: '10.82.0.0/24' } });
    expect(dup.status).toBe(409);
    const v6 = await alice('POST', '/v2.0/subnets', { subnet: { network_id: odd.body.network.id, cidr: 'FD00:82:0::/64', gateway_ip: 'FD00:82::1' } });
    expect(v6.status).toBe(201);
    expect(v6.body.subnet).toMatchObject({ cidr: 'fd00:82::/64', gateway_ip: 'fd00:82::1', allocation_pools: [expect.objectContaining({ start: 'fd00:82::2' })] });
    for (const spelling of ['fd00:82:0::/64', 'fd00:0082::/64']) {
      const again = await alice('POST', '/v2.0/networks', { network: { name: 'again', cidr: spelling } });
      expect([again.status, message(again)]).toEqual([409, 'CIDR fd00:82::/64 is already in use by network ' + String(odd.body.network.id)]);
    }
    const port = await alice('POST', '/v2.0/ports', { port: { network_id: odd.body.network.id, fixed_ips: [{ ip_address: 'FD00:82::A' }] } });
    expect(port.body.port.fixed_ips[0].ip_address).toBe('fd00:82::a');
    const twice = await alice('POST', '/v2.0/ports', { port: { network_id: odd.body.network.id, fixed_ips: [{ ip_address: 'fd00:82:0:0::a' }] } });
    expect([twice.status, message(twice)]).toEqual([409, "IP address 'fd00:82::a' is already in use"]);
  });

  it("the agent's schema refuses a spelling that is not the canonical one, naming the field", () => {
    const doc = { schemaVersion: 1, generation: 1, host: { name: 'h1' }, networks: [{ id: 'n', type: 'MAC_FILTERED', macPrefix: 'aa:00:01', subnets: [{ cidr: '10.82.0.0/024' }] }], ports: [] };
    expect(validateHostState(doc).rejections).toEqual([{ kind: 'network', id: 'n', field: 'networks[0].subnets[0].cidr', reason: "'10.82.0.0/024' is not in canonical form (write 10.82.0.0/24)" }]);
    const upper = { ...doc, networks: [{ id: 'n', type: 'MAC_FILTERED', macPrefix: 'aa:00:01', subnets: [{ cidr: 'fd00:82::/64' }] }], ports: [{ id: 'p', network: 'n', mac: 'aa:00:01:00:00:01', addresses: ['FD00:82::A'] }] };
    expect(validateHostState(upper).rejections).toEqual([{ kind: 'port', id: 'p', field: 'ports[0].addresses[0]', reason: "'FD00:82::A' is not in canonical form (write fd00:82::a)" }]);
  });
});

describe('nothing leaks (finding 5)', () => {
  it('the agents list is admin-only', async () => {
    const r = await alice('GET', '/v2.0/agents');
    expect([r.status, message(r)]).toEqual([403, 'The agents list is for administrators only (admin role required)']);
    expect((await nova('GET', '/v2.0/agents')).status).toBe(403);
    expect((await admin('GET', '/v2.0/agents')).status).toBe(200);
  });

  it("a duplicate CIDR names neither the other project's network nor how many it has", async () => {
    const r = await bob('POST', '/v2.0/networks', { network: { name: 'copy', cidr: '10.82.0.0/24' } });
    expect([r.status, message(r)]).toEqual([409, 'CIDR 10.82.0.0/24 is already in use by another project']);
  });
});

describe('MAC prefixes come from a pool (finding 6)', () => {
  it("a deleted network's prefix is reused; an exhausted pool is a typed 409 naming it", async () => {
    const made = (await alice('POST', '/v2.0/networks', { network: { name: 'mf' } })).body.network;
    expect((await alice('DELETE', `/v2.0/networks/${made.id}`)).status).toBe(204);
    const again = (await alice('POST', '/v2.0/networks', { network: { name: 'mf2' } })).body.network;
    expect(again.mac_prefix).toBe(made.mac_prefix);
    await alice('DELETE', `/v2.0/networks/${again.id}`);
    // fill the rest of the pool (65,535 prefixes) directly in the store, as 65,535 networks would
    const taken = new Set((await ctl.service.store.read((r) => r.networks(undefined))).map((n) => n.mac_prefix));
    await ctl.service.store.write(async (tx) => {
      for (let i = 1; i <= 0xffff; i++) {
        const prefix = `aa:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;
        if (!taken.has(prefix)) await tx.insertNetwork({ name: 'filler', project: 'filler', type: 'MAC_FILTERED', public: false, segment: null, uplink: null, routingTable: null, macPrefix: prefix, at: '' });
      }
    });
    const full = await alice('POST', '/v2.0/networks', { network: { name: 'one-too-many', type: 'MAC_FILTERED' } });
    expect(full.status).toBe(409);
    expect(full.body.NeutronError).toMatchObject({ type: 'PoolExhausted', message: 'No free MAC prefix under aa (all 65,535 are held by MAC_FILTERED networks)' });
  }, 60_000);
});

describe('smaller things (finding 6)', () => {
  it('a client that goes away mid-body is counted as 499 and logged as such, never as a 5xx', async () => {
    const port = await freePort();
    const own = await testController({ metrics: { listen: `127.0.0.1:${port}` } });
    try {
      const url = new URL(own.url);
      const sock = connect(Number(url.port), url.hostname);
      await new Promise<void>((r) => sock.once('connect', () => r()));
      const auth = Buffer.from('alice:pw-a').toString('base64');
      sock.write(`POST /v2.0/networks HTTP/1.1\r\nhost: x\r\nauthorization: Basic ${auth}\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"network": {"na`);
      await new Promise((r) => setTimeout(r, 50));
      sock.destroy();
      const metrics = await until(async () => {
        const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        return /plumb_controller_http_requests_total\{method="POST",code="499"\} 1/.test(text) ? text : undefined;
      }, 5_000);
      expect(metrics).not.toMatch(/code="5\d\d"/);
      // and nothing was made
      expect((await caller(own.url, 'alice', 'pw-a')('GET', '/v2.0/networks')).body.networks.map((n: { name: string }) => n.name)).toEqual(['public']);
    } finally {
      await own.close();
    }
  });

  it('failed logins are limited per user and per address: 429 with Retry-After, counted in the metrics', async () => {
    const port = await freePort();
    const own = await testController({ metrics: { listen: `127.0.0.1:${port}` }, loginLimit: { failures: 3, windowSeconds: 60 } });
    try {
      const wrong = caller(own.url, 'alice', 'guess');
      for (let i = 0; i < 3; i++) expect((await wrong('GET', '/v2.0/networks')).status).toBe(401);
      const limited = await fetch(`${own.url}/v2.0/networks`, { headers: { authorization: `Basic ${Buffer.from('alice:guess').toString('base64')}` } });
      expect(limited.status).toBe(429);
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(((await limited.json()) as { NeutronError: { type: string; message: string } }).NeutronError).toMatchObject({ type: 'TooManyRequests', message: expect.stringMatching(/^Too many failed logins for this user; try again in \d+ s$/) });
      // even the right password waits: the guesser must not learn it by the answer
      expect((await caller(own.url, 'alice', 'pw-a')('GET', '/v2.0/networks')).status).toBe(429);
      // another user from the same (loopback) address is over the address's limit too
      expect((await caller(own.url, 'bob', 'pw-b')('GET', '/v2.0/networks')).status).toBe(429);
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(text).toMatch(/plumb_controller_logins_throttled_total\{by="user"\} 2/);
      expect(text).toMatch(/plumb_controller_logins_throttled_total\{by="address"\} 1/);
    } finally {
      await own.close();
    }
  });

  it('the limit holds per key and lapses when the oldest failure leaves the window (injected clock)', () => {
    let now = 0;
    const t = new LoginThrottle({ failures: 2, windowSeconds: 10, now: () => now });
    t.fail('alice', '10.0.0.1');
    now = 4_000;
    t.fail('alice', '10.0.0.2');
    expect(() => t.check('alice', '10.0.0.3')).toThrow(/this user; try again in 6 s/);
    expect(() => t.check('bob', '10.0.0.1')).not.toThrow(); // each address failed once
    now = 10_001;
    expect(() => t.check('alice', '10.0.0.3')).not.toThrow();
  });
});
