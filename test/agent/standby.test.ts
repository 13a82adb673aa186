// A live migration's destination (port.standby): the device is made and plugged before the
// switch, but no route, rule or proxy entry exists, so two hosts never route the same address;
// on the switch (standby dropped) they appear, with the announcement to the upstream. Real CLI,
// real kernel, throwaway namespaces.
import { afterAll, describe, expect, it } from 'vitest';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Netns, ipIn } from '../helpers/netns.js';
import { link, runPlumb, tempDir } from '../helpers/topology.js';

const netns = new Netns();
const dir = tempDir();
afterAll(() => {
  netns.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

let seq = 0;
function state(doc: object): string {
  const p = join(dir, `state-${++seq}.json`);
  writeFileSync(p, JSON.stringify({ schemaVersion: 1, generation: seq, host: { name: 'h' }, ...doc }));
  return p;
}

const routed = { id: 'pub', type: 'IP_LESS_ROUTED', uplink: 'up0', routingTable: 121, subnets: [{ cidr: '198.51.100.0/24', gateway: '198.51.100.1' }] };
const vxlan = { id: 'priv', type: 'VXLAN', segmentId: 4242, remotes: ['10.99.0.2'], subnets: [{ cidr: '192.168.42.0/24' }] };

describe('a port standing by for a live migration', () => {
  it('is plugged with no route or proxy entry, and gets both (announced) when it becomes the port', async () => {
    const host = netns.add('pt-stb');
    ipIn(host, 'link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'up0-peer');
    ipIn(host, 'link', 'add', 'ul0', 'type', 'veth', 'peer', 'name', 'ul0-peer');
    for (const d of ['up0', 'up0-peer', 'ul0', 'ul0-peer']) ipIn(host, 'link', 'set', d, 'up');
    ipIn(host, 'addr', 'add', '10.99.0.1/24', 'dev', 'ul0');
    const pub = { id: 'vmpub', network: 'pub', mac: 'aa:00:04:00:00:01', addresses: ['198.51.100.9'] };
    const priv = { id: 'vmpriv', network: 'priv', mac: 'aa:00:04:00:00:02', addresses: ['192.168.42.9'] };
    const hostInfo = { name: 'h', underlay: { device: 'ul0', address: '10.99.0.1' } };
    const standby = state({ host: hostInfo, networks: [routed, vxlan], ports: [{ ...pub, standby: true }, { ...priv, standby: true }] });
    const r = await runPlumb(['agent', 'apply', '--state', standby, '--netns', host, '--json']);
    const res = JSON.parse(r.stdout) as { converged: boolean; ports: { id: string; status: string }[]; ops: string[] };
    expect(res.converged, r.stdout).toBe(true);
    expect(res.ports.map((p) => p.status)).toEqual(['ACTIVE', 'ACTIVE']);
    expect(link(host, 'tapvmpub')).toBeDefined();
    expect(link(host, 'tapvmpriv')?.master).toBe('pbr-priv');
    expect(ipIn(host, 'route', 'show', 'table', 'all', '198.51.100.9')).toBe('');
    expect(ipIn(host, 'rule', 'show')).not.toMatch(/tapvmpub/);
    expect(ipIn(host, 'neigh', 'show', 'proxy')).not.toMatch(/198\.51\.100\.9/);
    expect(res.ops.filter((o) => o.startsWith('arping'))).toEqual([]);

    const active = state({ host: hostInfo, networks: [routed, vxlan], ports: [pub, priv] });
    const a = await runPlumb(['agent', 'apply', '--state', active, '--netns', host, '--json']);
    const ares = JSON.parse(a.stdout) as { converged: boolean; ops: string[] };
    expect(ares.converged, a.stdout).toBe(true);
    expect(ares.ops).toContain('arping -U 198.51.100.9 (dev up0)');
    expect(ares.ops.some((o) => o.startsWith('ip link add'))).toBe(false);
    expect(ipIn(host, 'route', 'show', '198.51.100.9')).toMatch(/dev tapvmpub/);
    expect(ipIn(host, 'neigh', 'show', 'proxy')).toMatch(/198\.51\.100\.9 dev up0/);
  });
});
