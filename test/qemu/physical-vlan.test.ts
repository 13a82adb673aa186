// PHYSICAL_VLAN on a stock kernel: two QEMU guests act as hypervisor hosts, joined by a trunk
// (a bridge in a host-side namespace with one tap per guest). Each guest creates eth0.10 and
// eth0.20 with their bridges and a veth "VM" namespace per VLAN. All four VMs share one IP
// subnet, so only the 802.1Q separation keeps VLAN 10 from reaching VLAN 20.
import { afterAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import { Netns } from '../helpers/netns.js';
import { Guest, barrier } from '../../src/qemu/vm.js';
import { cacheDir, repoRoot } from '../../src/qemu/paths.js';
import { withLock } from '../../src/qemu/lock.js';
import { agentCliAvailable, capture, hostBridgeWithTaps } from './host-net.js';
import { QUEUED_GUEST_TEST_TIMEOUT_MS } from '../helpers/guest-queue.js';

const vids = [10, 20];

function hostState(host: number): object {
  return {
    schemaVersion: 1,
    generation: 1,
    host: { name: `hv${host}` },
    networks: vids.map((v) => ({ id: `net${v}`, type: 'PHYSICAL_VLAN', segmentId: v, uplink: 'eth0', subnets: [{ cidr: '10.9.0.0/24' }] })),
    ports: vids.map((v) => ({
      id: `vm${v}-hv${host}`,
      network: `net${v}`,
      mac: `aa:00:00:09:${v}:0${host}`,
      addresses: [`10.9.0.${v}${host}`],
      kind: 'veth',
      veth: { netns: `vm${v}` },
      portSecurity: false,
    })),
  };
}

/** The guest side: build the objects (agent, or iproute2 until the agent lands), then probe. */
function guestScript(host: number, useAgent: boolean): string {
  const peer = host === 1 ? 2 : 1;
  const byHand = vids
    .map((v) => `ip link add link eth0 name eth0.${v} type vlan id ${v}
ip link add br${v} type bridge
ip link set eth0.${v} master br${v}; ip link set eth0.${v} up; ip link set br${v} up
ip link add p${v} type veth peer name eth0 netns vm${v}
ip link set p${v} master br${v}; ip link set p${v} up`)
    .join('\n');
  const build = useAgent
    ? `echo "objects: plumb agent apply"
# No nftables modules in the guest initramfs: port security is not what this scenario proves.
node ${repoRoot}/bin/plumb.js agent apply --no-firewall --state "$ctl/state.json"
node ${repoRoot}/bin/plumb.js agent apply --no-firewall --state "$ctl/state.json" | tee "$ctl/second-apply.txt"
grep -q ": 0 kernel writes, .*converged" "$ctl/second-apply.txt" || { echo "second apply was not a no-op"; exit 1; }`
    : `echo "objects: iproute2 (plumb agent CLI not available yet)"
${byHand}`;
  return `ip link set eth0 up
${vids.map((v) => `ip netns add vm${v}`).join('\n')}
${build}
for v in ${vids.join(' ')}; do
  ip -d link show eth0.$v | grep -q "vlan protocol 802.1Q id $v " || { echo "eth0.$v is not an 802.1Q link"; ip -d link show; exit 1; }
  ip -n vm$v addr add 10.9.0.\${v}${host}/24 dev eth0 2>/dev/null || true
  ip -n vm$v link set lo up; ip -n vm$v link set eth0 up
done
ip -d link show > "$ctl/links.txt"
barrier configured
for v in ${vids.join(' ')}; do
  ok=0
  for try in 1 2 3 4 5; do ip netns exec vm$v busybox ping -c 1 -W 2 10.9.0.\${v}${peer} >/dev/null && { ok=1; break; }; done
  [ $ok = 1 ] || { echo "vm$v cannot reach 10.9.0.\${v}${peer} on VLAN $v"; exit 1; }
  echo "PLUMB-RESULT same-vlan $v ok"
done
if ip netns exec vm10 busybox ping -c 3 -W 1 10.9.0.20${peer} >/dev/null; then echo "PLUMB-RESULT cross-vlan REACHED"; exit 1; fi
echo "PLUMB-RESULT cross-vlan blocked"
barrier done
`;
}

describe('PHYSICAL_VLAN across a trunk between two QEMU hypervisor guests (stock Debian kernel)', () => {
  const ns = new Netns();
  const guests: Guest[] = [];
  afterAll(() => {
    for (const g of guests) g.kill();
    ns.cleanup();
  });

  it('same VLAN reaches across the trunk, another VLAN in the same subnet does not', async () => {
    await withLock(path.join(cacheDir, 'guests.lock'), async () => {
      const useAgent = agentCliAvailable();
      const host = hostBridgeWithTaps(ns, 'pt-qv', 'trunk', ['hv1-trunk', 'hv2-trunk']);
      for (const n of [1, 2]) {
        const g = await Guest.start({
          name: `hv${n}`,
          netns: host.netns,
          nics: [{ tap: `hv${n}-trunk`, mac: `52:54:00:00:09:0${n}` }],
          script: guestScript(n, useAgent),
        });
        guests.push(g);
        writeFileSync(path.join(g.ctlDir, 'state.json'), JSON.stringify(hostState(n)));
      }
      // The trunk on the host side must carry 802.1Q-tagged frames (the host kernel needs no
      // 8021q driver to bridge them; tcpdump decodes the tags).
      const wire = capture(host.netns, 'trunk', 'vlan and icmp');
      await barrier(guests, 'configured', 180_000);
      await barrier(guests, 'done', 180_000);
      const frames = await wire.stop();
      expect(frames).toMatch(/vlan 10, p 0, ethertype IPv4.*10\.9\.0\.101 > 10\.9\.0\.102: ICMP echo request/);
      expect(frames).toMatch(/vlan 20, p 0, ethertype IPv4.*10\.9\.0\.201 > 10\.9\.0\.202: ICMP echo request/);
      const results = await Promise.all(guests.map((g) => g.result(60_000)));
      for (const r of results) {
        expect(r.console).toMatch(/PLUMB-RESULT same-vlan 10 ok/);
        expect(r.console).toMatch(/PLUMB-RESULT same-vlan 20 ok/);
        expect(r.console).toMatch(/PLUMB-RESULT cross-vlan blocked/);
      }
    });
  }, QUEUED_GUEST_TEST_TIMEOUT_MS);
});
