// Taps the VM manager makes (libvirt's own taps, Ganeti's tapN, Nova's vif_type tap): plumb adopts
// a tap that exists before its port is applied, waits (port DOWN, not ERROR) for one that does
// not exist yet, never recreates or deletes it, and hands it back on the port's removal, out of
// its bridge and with plumb's mark gone. Real CLI, real kernel, in throwaway namespaces.
import { afterAll, describe, expect, it } from 'vitest';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Netns, ipIn, ipJson } from '../helpers/netns.js';
import { runPlumb, tempDir } from '../helpers/topology.js';

const netns = new Netns();
const dir = tempDir();
afterAll(() => {
  netns.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

interface IpLink { ifname: string; ifindex: number; master?: string; ifalias?: string; mtu: number; operstate: string; flags: string[]; address: string }

let seq = 0;
function state(doc: object): string {
  const p = join(dir, `state-${++seq}.json`);
  writeFileSync(p, JSON.stringify({ schemaVersion: 1, generation: seq, host: { name: 'h', macFiltered: { bridge: 'plumbmf0' } }, ...doc }));
  return p;
}

const macFiltered = { id: 'n', type: 'MAC_FILTERED', macPrefix: 'aa:00:03', subnets: [{ cidr: '192.168.3.0/24' }] };
const routed = { id: 'pub', type: 'IP_LESS_ROUTED', uplink: 'up0', routingTable: 120, subnets: [{ cidr: '198.51.100.0/24', gateway: '198.51.100.1' }] };
const link = (ns: string, name: string): IpLink | undefined => ipJson<IpLink[]>(ns, 'link', 'show').find((l) => l.ifname === name);

describe('taps adopted from the VM manager', () => {
  it('adopts a tap made before the port, writes nothing on the next pass, and hands it back on removal', async () => {
    const host = netns.add('pt-adh');
    // what libvirt (managed='no' aside) or Ganeti does: a persistent tap owned by its own user
    ipIn(host, 'tuntap', 'add', 'dev', 'tap7', 'mode', 'tap', 'user', '64055');
    ipIn(host, 'link', 'set', 'tap7', 'mtu', '1400');
    const index = link(host, 'tap7')?.ifindex;
    const doc = state({ networks: [macFiltered], ports: [{ id: 'g1', network: 'n', mac: 'aa:00:03:00:00:07', addresses: ['192.168.3.7'], ifname: 'tap7', tap: { adopt: true } }] });
    const up = await runPlumb(['agent', 'apply', '--state', doc, '--netns', host]);
    expect(up.stdout, up.stdout + up.stderr).toMatch(/converged/);
    expect(up.code).toBe(0);
    expect(up.stdout).not.toMatch(/ip tuntap add/);
    const adopted = link(host, 'tap7');
    expect(adopted).toMatchObject({ ifindex: index, master: 'plumbmf0', ifalias: 'plumb:adopted:g1', mtu: 1500 });
    expect(adopted?.flags).toContain('UP');

    const again = await runPlumb(['agent', 'apply', '--state', doc, '--netns', host]);
    expect(again.stdout).toMatch(/: 0 kernel writes, 0 failures, 0 not applied, 0 rejected.*converged/);

    const gone = state({ networks: [macFiltered], ports: [] });
    const down = await runPlumb(['agent', 'apply', '--state', gone, '--netns', host]);
    expect(down.stdout).toMatch(/converged/);
    expect(down.stdout).toMatch(/ip link set tap7 nomaster alias ""|ip link set tap7 alias "" nomaster/);
    const handedBack = link(host, 'tap7');
    expect(handedBack?.ifindex, 'the VM manager\'s tap is never deleted').toBe(index);
    expect(handedBack?.master).toBeUndefined();
    expect(handedBack?.ifalias ?? '').toBe('');
    const quiet = await runPlumb(['agent', 'apply', '--state', gone, '--netns', host]);
    expect(quiet.stdout, 'a handed-back tap is foreign again: nothing to do').toMatch(/: 0 kernel writes/);
  });

  it('waits for a tap that is not there yet (DOWN with the reason), then adopts it when it appears', async () => {
    const host = netns.add('pt-adw');
    ipIn(host, 'link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'up0-peer');
    ipIn(host, 'link', 'set', 'up0', 'up');
    ipIn(host, 'link', 'set', 'up0-peer', 'up');
    const doc = state({ networks: [routed], ports: [{ id: 'g2', network: 'pub', mac: 'aa:00:03:00:00:08', addresses: ['198.51.100.8'], ifname: 'tap8', tap: { adopt: true } }] });
    const waiting = await runPlumb(['agent', 'apply', '--state', doc, '--netns', host, '--json']);
    const r = JSON.parse(waiting.stdout) as { ports: { id: string; status: string; reason?: string }[]; converged: boolean; ops: string[] };
    expect(r.ports).toEqual([{ id: 'g2', status: 'DOWN', reason: "waiting for the VM manager to create tap 'tap8'", revision: 0 }]);
    expect(r.ops.filter((o) => o.includes('tap8')), 'nothing is built on a device that is not there').toEqual([]);
    expect(link(host, 'tap8'), 'plumb never creates an adopted tap').toBeUndefined();

    ipIn(host, 'tuntap', 'add', 'dev', 'tap8', 'mode', 'tap');
    ipIn(host, 'link', 'set', 'tap8', 'up');
    const up = await runPlumb(['agent', 'apply', '--state', doc, '--netns', host]);
    expect(up.stdout, up.stdout + up.stderr).toMatch(/converged/);
    expect(link(host, 'tap8')?.ifalias).toBe('plumb:adopted:g2');
    // a routed port's device answers for the VM's gateway with the same MAC on every host; the
    // VM may have learnt another one: the gateway is announced to it
    expect(link(host, 'tap8')?.address).toBe('fe:00:03:00:00:08');
    expect(up.stdout).toMatch(/\+ ip link set tap8 address fe:00:03:00:00:08/);
    expect(up.stdout).toMatch(/\+ arping -U 198\.51\.100\.1 \(dev tap8\)/);
    expect(ipIn(host, 'route', 'show', '198.51.100.8')).toMatch(/dev tap8/);
    expect(ipIn(host, 'rule', 'show')).toMatch(/iif tap8 lookup 120/);

    // the port leaves (a migration away, or deleted): its routes and rule go, the tap stays
    const gone = state({ networks: [routed], ports: [] });
    const down = await runPlumb(['agent', 'apply', '--state', gone, '--netns', host]);
    expect(down.stdout).toMatch(/converged/);
    expect(link(host, 'tap8')?.ifalias ?? '').toBe('');
    expect(ipIn(host, 'route', 'show', '198.51.100.8')).toBe('');
    expect(ipIn(host, 'rule', 'show')).not.toMatch(/tap8/);
  });

  it('refuses to adopt a device of the wrong kind, naming it', async () => {
    const host = netns.add('pt-adk');
    ipIn(host, 'link', 'add', 'tap9', 'type', 'bridge');
    const doc = state({ networks: [macFiltered], ports: [{ id: 'g3', network: 'n', mac: 'aa:00:03:00:00:09', addresses: [], ifname: 'tap9', tap: { adopt: true } }] });
    const r = await runPlumb(['agent', 'apply', '--state', doc, '--netns', host]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/not applied port:g3: device 'tap9' exists and is a bridge, not a tap; not adopted/);
    expect(link(host, 'tap9')?.ifalias).toBeUndefined();
  });
});
