// Each finding of the outside probe (issue 18, points 1-6 and 10), over real HTTP on loopback:
// bad input gets a 4xx that names the field, never a 500, and nothing wrong reaches the store.
// Every case here failed on the code before the request decoders and the store's invariants.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningController } from '../../src/controller/server.js';
import { rawSql } from '../helpers/raw-sql.js';
import { SubnetInUseStoreError, SubnetOverlapStoreError, SubnetPoolsStoreError } from '../../src/controller/store-errors.js';
import { caller, testController } from './fixture.js';

let ctl: RunningController;
let alice: ReturnType<typeof caller>;
let admin: ReturnType<typeof caller>;
let net = '';

const message = (r: { body: Record<string, any> }): string => r.body.NeutronError?.message ?? '';

beforeAll(async () => {
  ctl = await testController({ maxBodyBytes: 64 * 1024 });
  alice = caller(ctl.url, 'alice', 'pw-a');
  admin = caller(ctl.url, 'admin', 'a');
  net = (await alice('POST', '/v2.0/networks', { network: { name: 'probe' } })).body.network.id;
});
afterAll(async () => ctl?.close());

describe('bad input never gets a 500 (issue 18)', () => {
  it('1: null entries in fixed_ips, allocation_pools and host_routes are 400s naming the entry', async () => {
    const p = await alice('POST', '/v2.0/ports', { port: { network_id: net, fixed_ips: [null] } });
    expect(p.status).toBe(400);
    expect(message(p)).toBe('Invalid input for fixed_ips[0]. Reason: must be an object, not null.');
    const pools = await alice('POST', '/v2.0/subnets', { subnet: { network_id: net, cidr: '10.50.0.0/24', allocation_pools: [null] } });
    expect(pools.status).toBe(400);
    expect(message(pools)).toMatch(/^Invalid input for allocation_pools\[0\]\. Reason: must be an object/);
    const routes = await alice('POST', '/v2.0/subnets', { subnet: { network_id: net, cidr: '10.50.0.0/24', host_routes: [null] } });
    expect(routes.status).toBe(400);
    expect(message(routes)).toMatch(/^Invalid input for host_routes\[0\]\. Reason: must be an object/);
  });

  it('2: a malformed percent-escape in an {id} is a 400 on every route with an id', async () => {
    const paths = ['/v2.0/networks/%E0%A4%A', '/v2.0/subnets/%E0%A4%A', '/v2.0/ports/%E0%A4%A', '/v2.0/floatingips/%E0%A4%A', '/v2.0/quotas/%E0%A4%A', '/v2.0/quotas/%E0%A4%A/details', '/v2.0/quotas/%E0%A4%A/default', '/v3/projects/%E0%A4%A', '/projects/%E0%A4%A', '/os-quota-sets/%E0%A4%A', '/v2.0/plumb/hosts/%E0%A4%A/desired-state'];
    for (const path of paths) {
      const r = await admin('GET', path);
      expect(r.status, path).toBe(400);
      expect(message(r), path).toBe("Invalid input for id. Reason: '%E0%A4%A' is not a valid percent-encoded path segment.");
    }
    for (const [method, path] of [['DELETE', '/v2.0/ports/%ZZ'], ['PUT', '/v2.0/ports/%'], ['POST', '/v2.0/floatingips/%C0/attach']] as const) {
      const r = await alice(method, path, method === 'DELETE' ? undefined : {});
      expect(r.status, `${method} ${path}`).toBe(400);
    }
  });

  it('3: overlapping subnets on a network and private CIDRs that hold no VMs are refused', async () => {
    const n = (await alice('POST', '/v2.0/networks', { network: { name: 'overlap', cidr: '10.9.0.0/24' } })).body.network.id;
    for (const cidr of ['10.9.0.0/25', '10.9.0.0/26', '10.9.0.128/25', '10.8.0.0/15']) {
      const r = await alice('POST', '/v2.0/subnets', { subnet: { network_id: n, cidr } });
      expect(r.status, cidr).toBe(400);
      expect(message(r), cidr).toMatch(new RegExp(`^Invalid input for cidr\\. Reason: ${cidr.replace(/\./g, '\\.')} overlaps 10\\.9\\.0\\.0/24 \\(subnet \\d+ of network ${n}\\)\\.$`));
    }
    expect((await alice('POST', '/v2.0/subnets', { subnet: { network_id: n, cidr: '10.10.0.0/24' } })).status).toBe(201);
    for (const [cidr, reason] of [
      ['0.0.0.0/0', "'0.0.0.0/0' has a /0 prefix; a subnet's prefix is /8 to /30 for IPv4"],
      ['10.7.0.0/31', "'10.7.0.0/31' has a /31 prefix; a subnet's prefix is /8 to /30 for IPv4"],
      ['10.7.0.1/32', "'10.7.0.1/32' has a /32 prefix; a subnet's prefix is /8 to /30 for IPv4"],
      ['127.0.0.0/8', "'127.0.0.0/8' is in the loopback range, which no VM network may use"],
      ['224.0.0.0/24', "'224.0.0.0/24' is in the multicast range, which no VM network may use"],
    ]) {
      const r = await alice('POST', '/v2.0/networks', { network: { name: 'bad', cidr } });
      expect(r.status, cidr).toBe(400);
      expect(message(r), cidr).toBe(`Invalid input for cidr. Reason: ${reason}.`);
    }
    // the public networks' subnets may not overlap either (they are routed from one table)
    const pub = await admin('POST', '/v2.0/subnets', { subnet: { network_id: '1', cidr: '192.168.3.128/25' } });
    expect(pub.status).toBe(400);
    expect(message(pub)).toMatch(/overlaps 192\.168\.3\.0\/24/);
  });

  it('4: reversed or outside pools and junk host routes are refused, and nothing is published', async () => {
    const before = await ctl.hooks.desiredState('hv-probe');
    const cases: [unknown, string][] = [
      [{ allocation_pools: [{ start: '10.60.0.20', end: '10.60.0.10' }] }, 'Invalid input for allocation_pools[0]. Reason: start 10.60.0.20 is after end 10.60.0.10.'],
      [{ allocation_pools: [{ start: '10.60.0.5', end: '10.61.0.10' }] }, 'Invalid input for allocation_pools[0].end. Reason: 10.61.0.10 is outside 10.60.0.0/24.'],
      [{ allocation_pools: [{ start: '10.60.0.2', end: '10.60.0.9' }, { start: '10.60.0.8', end: '10.60.0.12' }] }, 'Invalid input for allocation_pools[1]. Reason: overlaps allocation_pools[0].'],
      [{ allocation_pools: [{ start: '10.60.0.1', end: '10.60.0.9' }] }, 'Invalid input for allocation_pools[0]. Reason: the pool 10.60.0.1-10.60.0.9 holds the gateway 10.60.0.1.'],
      [{ host_routes: [{ destination: 'junk', nexthop: 'junk' }] }, "Invalid input for host_routes[0].destination. Reason: 'junk' is not a CIDR (address/prefix-length)."],
      [{ host_routes: [{ destination: '10.1.0.0/16', nexthop: '10.99.0.1' }] }, 'Invalid input for host_routes[0].nexthop. Reason: 10.99.0.1 is outside 10.60.0.0/24 (a next hop must be on the subnet).'],
      [{ host_routes: [{ destination: '10.1.2.3/16', nexthop: '10.60.0.1' }] }, "Invalid input for host_routes[0].destination. Reason: '10.1.2.3/16' has host bits set."],
      [{ gateway_ip: '10.60.0.0' }, 'Invalid input for gateway_ip. Reason: 10.60.0.0 is the network address of 10.60.0.0/24.'],
    ];
    for (const [extra, expected] of cases) {
      const r = await alice('POST', '/v2.0/subnets', { subnet: { network_id: net, cidr: '10.60.0.0/24', ...(extra as object) } });
      expect(r.status, JSON.stringify(extra)).toBe(400);
      expect(message(r)).toBe(expected);
    }
    const subnets = (await alice('GET', '/v2.0/subnets')).body.subnets as { cidr: string }[];
    expect(subnets.map((s) => s.cidr)).not.toContain('10.60.0.0/24');
    expect((await ctl.hooks.desiredState('hv-probe')).generation).toBe(before.generation);
  });

  it('5: a subnet with floating IPs is not deleted, and a restart recreates a configured public subnet', async () => {
    const fip = await alice('POST', '/v2.0/floatingips', { floatingip: {} });
    expect(fip.status).toBe(201);
    const pubSubnet = (await admin('GET', '/v2.0/networks/1')).body.network.subnets[0] as string;
    const del = await admin('DELETE', `/v2.0/subnets/${pubSubnet}`);
    expect(del.status).toBe(403);
    expect(message(del)).toMatch(/comes from the controller configuration/);
    // the store refuses it too, whatever path a write takes
    const store = ctl.service.store;
    await expect(store.write((tx) => tx.deleteSubnet(Number(pubSubnet)))).rejects.toBeInstanceOf(SubnetInUseStoreError);
    // and a private subnet used by a port: 409 from the service
    const port = await alice('POST', '/v2.0/ports', { port: { network_id: net } });
    const priv = (await alice('GET', `/v2.0/networks/${net}`)).body.network.subnets[0] as string;
    expect((await alice('DELETE', `/v2.0/subnets/${priv}`)).status).toBe(409);
    expect((await alice('DELETE', `/v2.0/ports/${port.body.port.id}`)).status).toBe(204);
    expect((await alice('DELETE', `/v2.0/floatingips/${fip.body.floatingip.id}`)).status).toBe(204);
    // an old database whose public subnet is gone (as the probe left it): the restart recreates it
    await rawSql(store, 'DELETE FROM subnets WHERE id = $1', [Number(pubSubnet)]);
    expect((await admin('GET', '/v2.0/networks/1')).body.network.subnets).toEqual([]);
    await ctl.service.networks.ensurePublic();
    const again = (await admin('GET', '/v2.0/networks/1')).body.network.subnets as string[];
    expect(again).toHaveLength(1);
    expect((await admin('GET', `/v2.0/subnets/${again[0]}`)).body.subnet).toMatchObject({ cidr: '192.168.3.0/24', gateway_ip: '192.168.3.1', allocation_pools: [{ start: '192.168.3.5', end: '192.168.3.20' }] });
    expect((await alice('POST', '/v2.0/floatingips', { floatingip: {} })).status).toBe(201);
  });

  it('5: the store holds the IPAM invariants itself', async () => {
    const store = ctl.service.store;
    const n = Number(net);
    const base = { networkId: n, project: 's0m3-u53r-1d', name: '', ipVersion: 4 as const, dns: '[]', enableDhcp: true, hostRoutes: '[]' };
    await expect(store.write((tx) => tx.insertSubnet({ ...base, cidr: '192.168.1.0/25', gateway: null, pools: '[{"start":"192.168.1.2","end":"192.168.1.9"}]' }))).rejects.toBeInstanceOf(SubnetOverlapStoreError);
    await expect(store.write((tx) => tx.insertSubnet({ ...base, cidr: '10.70.0.0/24', gateway: null, pools: '[{"start":"10.70.0.9","end":"10.70.0.2"}]' }))).rejects.toBeInstanceOf(SubnetPoolsStoreError);
    await expect(store.write((tx) => tx.insertSubnet({ ...base, cidr: '10.70.0.0/24', gateway: '10.70.0.5', pools: '[{"start":"10.70.0.2","end":"10.70.0.9"}]' }))).rejects.toBeInstanceOf(SubnetPoolsStoreError);
    await expect(rawSql(store, "UPDATE subnets SET pools = '[]' WHERE network_id = $1", [n])).rejects.toThrow(/plumb invariant subnet-pools/);
  });

  it('6: a body over the limit is refused before it is read, by Content-Length or as it streams', async () => {
    const auth = `Basic ${Buffer.from('alice:pw-a').toString('base64')}`;
    const { port } = new URL(ctl.url);
    // declares 50 MB and sends 1 KiB: the answer comes without the rest
    const declared = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/v2.0/ports', headers: { authorization: auth, 'content-type': 'application/json', 'content-length': String(50 * 1024 * 1024) } }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.write('x'.repeat(1024));
    });
    expect(declared.status).toBe(413);
    expect(JSON.parse(declared.body).NeutronError.message).toBe('Request body is larger than 65536 bytes (maxBodyBytes in the controller configuration)');
    // chunked, no Content-Length: refused once it passes the limit
    const streamed = await new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/v2.0/ports', headers: { authorization: auth, 'content-type': 'application/json' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', () => undefined); // the server may close while we still write
      let sent = 0;
      const more = (): void => {
        if (sent > 1024 * 1024) return reject(new Error('the server read 1 MiB of a 64 KiB-limited body'));
        sent += 16 * 1024;
        req.write('y'.repeat(16 * 1024), () => setImmediate(more));
      };
      more();
    });
    expect(streamed).toBe(413);
    // under the limit: served
    expect((await alice('POST', '/v2.0/ports', { port: { network_id: net, name: 'n'.repeat(200) } })).status).toBe(201);
  });

  it('10: types, unknown attributes, MAC addresses, device ids, gateways and messages', async () => {
    const cases: [string, string, unknown, string][] = [
      ['POST', '/v2.0/networks', { network: { name: 42 } }, 'Invalid input for name. Reason: must be a string, not number.'],
      ['POST', '/v2.0/networks', { network: { name: 'x', colour: 'blue' } }, 'Invalid input for colour. Reason: is not a known attribute.'],
      ['POST', '/v2.0/ports', { port: { network_id: net, fixed_ips: '10.0.0.1' } }, 'Invalid input for fixed_ips. Reason: must be a list, not string.'],
      ['POST', '/v2.0/ports', { port: { network_id: net, fixed_ips: [{ ip_address: {} }] } }, 'Invalid input for fixed_ips[0].ip_address. Reason: must be a string, not object.'],
      ['POST', '/v2.0/ports', { port: { network_id: net, device_id: 'vm*' } }, "Invalid input for device_id. Reason: 'vm*' is not a valid device id (letters, digits and '_', '.', ':', '@', '-', starting with a letter or digit)."],
      ['POST', '/v2.0/ports', { port: { network_id: net, device_id: 'a>b' } }, "Invalid input for device_id. Reason: 'a>b' is not a valid device id (letters, digits and '_', '.', ':', '@', '-', starting with a letter or digit)."],
      ['POST', '/v2.0/ports', { port: { network_id: net, mac_address: 'zz:00:00:00:00:01' } }, "Invalid input for mac_address. Reason: 'zz:00:00:00:00:01' is not a MAC address (six colon-separated hex octets)."],
      ['POST', '/v2.0/subnets', { subnet: { network_id: net, cidr: '10.61.0.0/24', ip_version: 'x' } }, 'Invalid input for ip_version. Reason: must be 4 or 6.'],
      ['POST', '/v2.0/subnets', { subnet: { network_id: net, cidr: '10.61.0.0/24', ip_version: 6 } }, 'Invalid input for ip_version. Reason: 6 does not match the IPv4 cidr 10.61.0.0/24.'],
      ['POST', '/v2.0/subnets', { subnet: { network_id: net, cidr: { a: 1 } } }, 'Invalid input for cidr. Reason: must be a string, not object.'],
      ['PUT', '/v2.0/ports/1', { port: { fixed_ips: [] } }, 'Invalid input for fixed_ips. Reason: cannot be changed on an existing port (delete the port and create another); fixed_ips stays as it is.'],
      // found by scripts/fuzz-api.ts: an object whose toString is not a function was a 500
      ['POST', '/v2.0/ports', { port: { network_id: net, firewall_profile: { toString: 'x' } } }, 'Invalid input for firewall_profile. Reason: \'{"toString":"x"}\' is not DISABLED, ENABLED or PROTECTED.'],
      ['POST', '/v2.0/networks', [], 'Invalid input for network. Reason: the request body must be {"network": {...}}.'],
      ['POST', '/v2.0/networks', { network: {}, extra: 1 }, 'Invalid input for extra. Reason: is not a known attribute (the body holds only "network").'],
    ];
    for (const [method, path, body, expected] of cases) {
      const r = await alice(method, path, body);
      expect(r.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(400);
      expect(message(r)).toBe(expected);
      expect(message(r)).not.toMatch(/NaN|\[object Object\]|undefined/);
    }
    // mac_address is used, under the network's prefix (MAC_FILTERED), and refused when taken
    const prefix = ((await alice('POST', '/v2.0/ports', { port: { network_id: net } })).body.port.mac_address as string).slice(0, 8);
    const mac = `${prefix}:00:00:99`;
    const withMac = await alice('POST', '/v2.0/ports', { port: { network_id: net, mac_address: mac.toUpperCase() } });
    expect(withMac.status).toBe(201);
    expect(withMac.body.port.mac_address).toBe(mac);
    const taken = await alice('POST', '/v2.0/ports', { port: { network_id: net, mac_address: mac } });
    expect(taken.status).toBe(409);
    expect(message(taken)).toBe(`MAC address ${mac} is already in use`);
    const foreign = await alice('POST', '/v2.0/ports', { port: { network_id: net, mac_address: '02:00:00:00:00:01' } });
    expect(foreign.status).toBe(400);
    expect(message(foreign)).toMatch(/^Invalid input for mac_address\. Reason: 02:00:00:00:00:01 is not under the network's MAC prefix/);
    // a Neutron subnet gets the first address as its gateway (null: none), as in Neutron
    const s = await alice('POST', '/v2.0/subnets', { subnet: { network_id: net, cidr: '10.62.0.0/24' } });
    expect(s.status).toBe(201);
    expect(s.body.subnet).toMatchObject({ gateway_ip: '10.62.0.1', allocation_pools: [{ start: '10.62.0.2', end: '10.62.0.254' }] });
    const none = await alice('POST', '/v2.0/subnets', { subnet: { network_id: net, cidr: '10.63.0.0/24', gateway_ip: null } });
    expect(none.body.subnet).toMatchObject({ gateway_ip: null, allocation_pools: [{ start: '10.63.0.1', end: '10.63.0.254' }] });
    // fixed_ips by subnet only: the next free address of that subnet
    const bySubnet = await alice('POST', '/v2.0/ports', { port: { network_id: net, fixed_ips: [{ subnet_id: s.body.subnet.id }] } });
    expect(bySubnet.status).toBe(201);
    expect(bySubnet.body.port.fixed_ips).toEqual([{ subnet_id: s.body.subnet.id, ip_address: '10.62.0.2' }]);
  });
});
