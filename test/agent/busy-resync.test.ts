// A sysctl changed by hand sends no notification: the agent finds it at its next full read of the
// kernel. That read must come at least every resync interval even when the agent never goes quiet
// (the runner's periodic resync only fires after a quiet interval), or a busy host would keep
// such drift forever.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openKernelHandle } from '../../src/kernel/handle.js';
import type { KernelHandle } from '../../src/kernel/types.js';
import { AgentService } from '../../src/agent/service.js';
import type { StateSource } from '../../src/agent/state-file.js';
import { Netns } from '../helpers/netns.js';
import { vethBetween, waitUntil } from '../helpers/topology.js';

const netns = new Netns();
let host: string;
let handle: KernelHandle;
let service: AgentService | undefined;
let feeder: NodeJS.Timeout | undefined;

const PROXY_ARP = 'net/ipv4/conf/tapr2/proxy_arp';

function doc(generation: number) {
  return {
    schemaVersion: 1,
    generation,
    host: { name: 'h1', underlay: { device: 'pub0', address: '10.66.0.1' } },
    networks: [{ id: 'pub', type: 'IP_LESS_ROUTED', uplink: 'pub0', routingTable: 300, subnets: [{ cidr: '203.0.113.0/24', gateway: '203.0.113.1' }] }],
    ports: [{ id: 'r2', network: 'pub', mac: 'aa:00:00:00:66:02', addresses: ['203.0.113.20'] }],
  };
}

beforeAll(async () => {
  host = netns.add('pt-br');
  const other = netns.add('pt-bro');
  vethBetween(host, 'pub0', other, 'pub1');
  handle = await openKernelHandle({ netns: host });
});
afterAll(async () => {
  clearInterval(feeder);
  await service?.stop();
  handle.close();
  netns.cleanup();
});

describe('full reads of the kernel while busy', () => {
  it('a sysctl changed by hand is restored within the resync interval although passes never stop', async () => {
    let generation = 1;
    let emit: ((d: unknown) => void) | undefined;
    const source: StateSource = {
      start(onDocument) {
        emit = onDocument;
        onDocument(doc(generation));
      },
      async stop() {},
    };
    service = new AgentService({ handle, source, runner: { maxIntervalMs: 400 } });
    service.start();
    await waitUntil(() => handle.sysctlGet([PROXY_ARP]).get(PROXY_ARP) === '1', 5000);
    // a new document every 20 ms: the runner is never quiet for its 400 ms periodic resync
    feeder = setInterval(() => emit?.(doc(++generation)), 20);
    await new Promise((r) => setTimeout(r, 300));
    handle.sysctlSet(PROXY_ARP, '0');
    const passesBefore = service.passes;
    const ms = await waitUntil(() => handle.sysctlGet([PROXY_ARP]).get(PROXY_ARP) === '1', 10_000).catch(() => Infinity);
    console.log(`busy resync: a sysctl changed by hand restored after ${ms} ms (resync interval 400 ms)`);
    expect(service.passes - passesBefore, 'passes kept running meanwhile').toBeGreaterThan(0);
    // the bug this guards against: a runner never quiet never resyncs, so never restores it
    expect(ms, 'restored by a resync although passes never stopped').toBeLessThanOrEqual(5000);
  });
});
