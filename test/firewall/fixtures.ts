// Desired states for port-security tests, built through the real validator so defaults and
// cross-object checks apply exactly as in the agent.
import { validateHostState } from '../../src/state/validate.js';
import type { HostState, HostStateInput } from '../../src/state/schema.js';

export type PortIn = NonNullable<HostStateInput['ports']>[number];
export type NetIn = NonNullable<HostStateInput['networks']>[number];

export function hostState(networks: NetIn[], ports: PortIn[], host: Partial<HostStateInput['host']> = {}): HostState {
  const v = validateHostState({ schemaVersion: 1, generation: 1, host: { name: 'h1', ...host }, networks, ports });
  if (v.rejections.length > 0) throw new Error(`fixture rejected: ${JSON.stringify(v.rejections)}`);
  return v.state;
}

export const vxlanNet = (id: string, cidr = '10.1.0.0/24'): NetIn => ({
  id,
  type: 'CUSTOM',
  bridge: 'br0',
  subnets: [{ cidr }],
});

/** N ports on one CUSTOM bridge, each with one IPv4 and one IPv6 address. */
export function manyPorts(n: number, profile: 'DISABLED' | 'ENABLED' | 'PROTECTED' = 'DISABLED'): HostState {
  const ports: PortIn[] = [];
  for (let i = 0; i < n; i++) {
    const hi = (i >> 8) & 0xff;
    const lo = i & 0xff;
    ports.push({
      id: `p${i}`,
      network: 'n1',
      ifname: `vp${i}`,
      mac: `02:00:00:00:${hi.toString(16).padStart(2, '0')}:${lo.toString(16).padStart(2, '0')}`,
      addresses: [`10.1.${Math.floor(i / 250)}.${(i % 250) + 1}`, `2001:db8::${(i + 1).toString(16)}`],
      firewallProfile: profile,
    });
  }
  return hostState([{ id: 'n1', type: 'CUSTOM', bridge: 'br0', subnets: [{ cidr: '10.1.0.0/16' }, { cidr: '2001:db8::/64' }] }], ports);
}
