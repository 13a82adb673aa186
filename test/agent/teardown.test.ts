// Taking a host's plumbing down the way docs/operations.md tells operators to (after removing
// the package, or before retiring a host): `plumb agent apply` of an empty state. Real CLI, real
// kernel in a throwaway namespace: every device, port and nftables table plumb made goes, and
// what plumb did not make stays.
import { afterAll, describe, expect, it } from 'vitest';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Netns, execIn, ipIn } from '../helpers/netns.js';
import { runPlumb, tempDir } from '../helpers/topology.js';

const netns = new Netns();
const dir = tempDir();
afterAll(() => {
  netns.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

function state(file: string, doc: unknown): string {
  const p = join(dir, file);
  writeFileSync(p, JSON.stringify(doc));
  return p;
}

describe('plumb agent apply of an empty state', () => {
  it('removes the bridges, ports and nftables tables plumb made, and nothing else', async () => {
    const host = netns.add('pt-tdh');
    const vm = netns.add('pt-tdv');
    ipIn(host, 'link', 'add', 'operator0', 'type', 'bridge');
    execIn(host, 'nft', ['add', 'table', 'inet', 'operator']);
    const full = state('full.json', {
      schemaVersion: 1,
      generation: 1,
      host: { name: 'h', macFiltered: { bridge: 'plumbmf0' } },
      networks: [{ id: 'n', type: 'MAC_FILTERED', macPrefix: 'aa:00:02', subnets: [{ cidr: '192.168.2.0/24' }] }],
      ports: [
        { id: 'a', network: 'n', mac: 'aa:00:02:00:00:0a', addresses: ['192.168.2.10'], kind: 'veth', veth: { netns: vm, peerName: 'eth0' } },
        { id: 't', network: 'n', mac: 'aa:00:02:00:00:0b', addresses: ['192.168.2.11'] },
      ],
    });
    const up = await runPlumb(['agent', 'apply', '--state', full, '--netns', host]);
    expect(up.stdout).toMatch(/converged/);
    expect(up.code).toBe(0);
    expect(ipIn(host, '-o', 'link', 'show')).toMatch(/alias plumb:/);
    expect(execIn(host, 'nft', ['list', 'tables'])).toMatch(/table bridge plumb/);

    const empty = state('empty.json', { schemaVersion: 1, generation: 2, host: { name: 'h' }, networks: [], ports: [] });
    const down = await runPlumb(['agent', 'apply', '--state', empty, '--netns', host]);
    expect(down.stdout).toMatch(/converged/);
    expect(down.code).toBe(0);
    expect(ipIn(host, '-o', 'link', 'show')).not.toMatch(/plumb/);
    expect(ipIn(vm, '-o', 'link', 'show')).not.toMatch(/eth0/);
    expect(execIn(host, 'nft', ['list', 'tables']).trim()).toBe('table inet operator');
    expect(ipIn(host, '-o', 'link', 'show')).toMatch(/operator0/);
    // and again: nothing left to do
    const again = await runPlumb(['agent', 'apply', '--state', empty, '--netns', host]);
    expect(again.stdout).toMatch(/generation 2: 0 kernel writes/);
  });
});
