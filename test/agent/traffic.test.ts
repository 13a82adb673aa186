// Real traffic through what the agent builds: VMs on one private network, VMs on two hosts
// over a VXLAN underlay, and a VM on the routed public network reaching the upstream router
// with no address on its port.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openKernelHandle } from '../../src/kernel/handle.js';
import type { KernelHandle } from '../../src/kernel/types.js';
import { Reconciler } from '../../src/agent/reconciler.js';
import { validateHostState } from '../../src/state/validate.js';
import { Netns, ipIn } from '../helpers/netns.js';
import { ping, vethBetween, vmAddress } from '../helpers/topology.js';

const netns = new Netns();
const handles: KernelHandle[] = [];

afterAll(() => {
  for (const h of handles) h.close();
  netns.cleanup();
});

async function apply(hostNs: string, doc: unknown): Promise<void> {
  const h = await openKernelHandle({ netns: hostNs });
  handles.push(h);
  const res = await new Reconciler(h).reconcile(validateHostState(doc));
  expect(res.failures).toEqual([]);
  expect(res.problems).toEqual([]);
}

function hostDoc(name: string, underlay: string, networks: unknown[], ports: unknown[]) {
  return { schemaVersion: 1, generation: 1, host: { name, underlay: { device: 'und0', address: underlay } }, networks, ports };
}

describe('traffic through plumb-built networks', () => {
  let h1: string, h2: string, vmA: string, vmB: string, vmC: string, vmP: string, router: string;

  beforeAll(() => {
    h1 = netns.add('pt-t1');
    h2 = netns.add('pt-t2');
    vmA = netns.add('pt-tva');
    vmB = netns.add('pt-tvb');
    vmC = netns.add('pt-tvc');
    vmP = netns.add('pt-tvp');
    router = netns.add('pt-tr');
    // underlay between the two hosts
    vethBetween(h1, 'und0', h2, 'und0');
    ipIn(h1, 'addr', 'add', '10.77.0.1/24', 'dev', 'und0');
    ipIn(h2, 'addr', 'add', '10.77.0.2/24', 'dev', 'und0');
    // public uplink of h1 to the upstream router
    vethBetween(h1, 'pub0', router, 'up0');
    ipIn(router, 'addr', 'add', '203.0.113.1/24', 'dev', 'up0');
  });

  it('two VMs on one host and one on another host ping each other over VXLAN', async () => {
    const net = { id: 'priv', type: 'VXLAN', segmentId: 7001, subnets: [{ cidr: '192.168.50.0/24' }] };
    await apply(
      h1,
      hostDoc('h1', '10.77.0.1', [{ ...net, remotes: ['10.77.0.2'] }], [
        { id: 'a', network: 'priv', mac: 'aa:00:00:00:50:0a', kind: 'veth', veth: { netns: vmA } },
        { id: 'b', network: 'priv', mac: 'aa:00:00:00:50:0b', kind: 'veth', veth: { netns: vmB } },
      ]),
    );
    await apply(h2, hostDoc('h2', '10.77.0.2', [{ ...net, remotes: ['10.77.0.1'] }], [{ id: 'c', network: 'priv', mac: 'aa:00:00:00:50:0c', kind: 'veth', veth: { netns: vmC } }]));
    vmAddress(vmA, 'eth0', '192.168.50.10/24');
    vmAddress(vmB, 'eth0', '192.168.50.11/24');
    vmAddress(vmC, 'eth0', '192.168.50.12/24');
    expect(ping(vmA, '192.168.50.11')).toBe(true); // same host, same bridge
    expect(ping(vmA, '192.168.50.12')).toBe(true); // across hosts over VXLAN
    expect(ping(vmC, '192.168.50.10')).toBe(true);
  });

  it('a VM on the routed public network reaches the upstream router and back, with no address on its port', async () => {
    const pub = { id: 'pub', type: 'IP_LESS_ROUTED', uplink: 'pub0', routingTable: 200, subnets: [{ cidr: '203.0.113.0/24', gateway: '203.0.113.1' }] };
    await apply(h1, hostDoc('h1', '10.77.0.1', [pub], [{ id: 'p', network: 'pub', mac: 'aa:00:00:00:71:01', kind: 'veth', veth: { netns: vmP }, addresses: ['203.0.113.7'] }]));
    // the VM believes it sits on 203.0.113.0/24 with the router as gateway, as a DHCP client would
    vmAddress(vmP, 'eth0', '203.0.113.7/24', '203.0.113.1');
    expect(ipIn(h1, 'addr', 'show', 'dev', 'vethp')).not.toMatch(/inet /);
    expect(ping(vmP, '203.0.113.1')).toBe(true);
    expect(ping(router, '203.0.113.7')).toBe(true);
  });
});
