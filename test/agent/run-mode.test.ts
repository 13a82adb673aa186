// `plumb agent plan|apply|run` as operators use them: the real CLI in a child process against
// a throwaway namespace. Drift made by hand is repaired from netlink events (well before the
// periodic resync), an atomically renamed state file is picked up, and a restart over a
// converged host writes nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Netns, ipIn } from '../helpers/netns.js';
import { LogTail, link, neighs, routes, rules, runPlumb, spawnPlumb, tempDir, vethBetween, waitUntil, writeAtomically } from '../helpers/topology.js';

const netns = new Netns();
let host: string;
let dir: string;
let statePath: string;
const children: ChildProcess[] = [];

function doc(ports: unknown[], generation = 1) {
  return {
    schemaVersion: 1,
    generation,
    host: { name: 'h1', underlay: { device: 'und0', address: '10.66.0.1' } },
    networks: [
      { id: 'n1', type: 'VXLAN', segmentId: 6001, remotes: ['10.66.0.2'] },
      { id: 'pub', type: 'IP_LESS_ROUTED', uplink: 'pub0', routingTable: 300, subnets: [{ cidr: '203.0.113.0/24', gateway: '203.0.113.1' }] },
    ],
    ports,
  };
}
const P1 = { id: 'r1', network: 'n1', mac: 'aa:00:00:00:66:01' };
const P2 = { id: 'r2', network: 'pub', mac: 'aa:00:00:00:66:02', addresses: ['203.0.113.20'] };

async function stop(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  child.kill('SIGTERM');
  return new Promise((resolve) => child.on('exit', (code) => resolve(code)));
}

beforeAll(() => {
  host = netns.add('pt-rh');
  const other = netns.add('pt-ro');
  vethBetween(host, 'und0', other, 'und1');
  ipIn(host, 'addr', 'add', '10.66.0.1/24', 'dev', 'und0');
  vethBetween(host, 'pub0', other, 'pub1');
  dir = tempDir();
  statePath = join(dir, 'state.json');
});

afterAll(async () => {
  for (const c of children) await stop(c);
  netns.cleanup();
});

describe('plumb agent CLI', () => {
  it('plan prints the operations without applying them', async () => {
    writeAtomically(statePath, doc([P1]));
    const r = await runPlumb(['agent', 'plan', '--state', statePath, '--netns', host]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/ip link add pbr-n1 mtu 1450 type bridge/);
    expect(r.stdout).toMatch(/ip link add pvx-n1 mtu 1450 type vxlan id 6001 local 10.66.0.1 dev und0 dstport 4789 nolearning/);
    expect(r.stdout).toMatch(/ip tuntap add tapr1 mode tap/);
    expect(link(host, 'pbr-n1')).toBeUndefined();
  });

  it('apply exits 1 naming the field when an object is rejected, and 0 once everything converged', async () => {
    writeAtomically(statePath, doc([P1, { ...P2, addresses: ['198.51.100.3'] }]));
    const bad = await runPlumb(['agent', 'apply', '--state', statePath, '--netns', host]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/rejected port r2: ports\[1\]\.addresses\[0\]: 198\.51\.100\.3 is outside every subnet of network 'pub'/);
    expect(link(host, 'tapr1')?.master).toBe('pbr-n1'); // the valid port converged
    expect(link(host, 'tapr2')).toBeUndefined();
    writeAtomically(statePath, doc([P1, P2]));
    const good = await runPlumb(['agent', 'apply', '--state', statePath, '--netns', host]);
    expect(good.stdout).toMatch(/converged/);
    expect(good.code).toBe(0);
  });

  it('a malformed state file is rejected as a whole with the field named, and nothing changes', async () => {
    const badPath = join(dir, 'bad.json');
    writeAtomically(badPath, { ...doc([P1]), schemaVersion: 7 });
    const r = await runPlumb(['agent', 'apply', '--state', badPath, '--netns', host]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/state\.schemaVersion: only schemaVersion 1 is understood/);
    expect(link(host, 'tapr2')).toBeDefined();
  });

  describe('run', () => {
    let agent: ChildProcess;
    let log: LogTail;

    beforeAll(async () => {
      writeAtomically(statePath, doc([P1, P2]));
      agent = spawnPlumb(['agent', 'run', '--state', statePath, '--netns', host]);
      children.push(agent);
      log = new LogTail(agent);
      await log.waitFor((l) => l.msg === 'reconcile pass');
    });

    it('restarting over a converged host makes zero kernel writes', async () => {
      expect(log.passes()[0]).toMatchObject({ writes: 0, failures: 0 });
    });

    // Notifications make repairs fast (scripts/bench-agent.ts measures them); 10 s separates a
    // repair from a notification from one left to the 60 s periodic resync.
    it('repairs a tap, a route, a rule and a neighbour removed by hand, from notifications', async () => {
      const checks: [string, () => void, () => boolean][] = [
        ['tap', () => ipIn(host, 'link', 'del', 'tapr1'), () => link(host, 'tapr1')?.master === 'pbr-n1'],
        ['route', () => ipIn(host, 'route', 'del', '203.0.113.20/32', 'table', '300'), () => routes(host, 4, 300).some((x) => x.dst === '203.0.113.20')],
        ['rule', () => ipIn(host, 'rule', 'del', 'priority', '20000', 'iif', 'tapr2'), () => rules(host, 4).some((x) => x.iif === 'tapr2')],
        ['neighbour', () => ipIn(host, 'neigh', 'del', 'proxy', '203.0.113.20', 'dev', 'pub0'), () => neighs(host, true).some((n) => n.dst === '203.0.113.20')],
        ['bridge', () => ipIn(host, 'link', 'del', 'pbr-n1'), () => link(host, 'tapr1')?.master === 'pbr-n1' && link(host, 'pvx-n1')?.master === 'pbr-n1'],
      ];
      for (const [what, breakIt, repaired] of checks) {
        expect(repaired(), `${what} present before`).toBe(true);
        breakIt();
        const ms = await waitUntil(repaired, 10_000).catch(() => Infinity);
        console.log(`run mode: ${what} removed by hand, repaired in ${ms} ms`);
        expect(ms, `${what} repaired within 10 s`).toBeLessThanOrEqual(10_000);
      }
    });

    it('picks up a state file replaced by an atomic rename', async () => {
      writeAtomically(statePath, doc([P1, P2, { id: 'r3', network: 'n1', mac: 'aa:00:00:00:66:03' }], 2));
      await waitUntil(() => link(host, 'tapr3')?.master === 'pbr-n1', 10_000);
      await log.waitFor((l) => l.msg === 'reconcile pass' && l.generation === 2);
    });

    it('stops cleanly on SIGTERM, and a restart over the converged host writes nothing', async () => {
      expect(await stop(agent)).toBe(0);
      const again = spawnPlumb(['agent', 'run', '--state', statePath, '--netns', host]);
      children.push(again);
      const tail = new LogTail(again);
      const first = await tail.waitFor((l) => l.msg === 'reconcile pass');
      expect(first).toMatchObject({ writes: 0, failures: 0, generation: 2 });
      expect(await stop(again)).toBe(0);
      expect(link(host, 'tapr3')?.master).toBe('pbr-n1'); // stopping removes nothing
    });
  });
});
