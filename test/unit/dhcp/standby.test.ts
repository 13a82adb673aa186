// A port standing by for a live migration gets no DHCPv4 binding and no router advertisement on
// the destination: until the switch only its current host answers the VM.
import { describe, expect, it } from 'vitest';
import { buildBindings } from '../../../src/dhcp/bindings.js';
import { raBindings } from '../../../src/dhcp/ra.js';
import { validateHostState } from '../../../src/state/validate.js';

const doc = (standby: boolean) => ({
  schemaVersion: 1,
  host: { name: 'h' },
  networks: [{ id: 'n', type: 'MAC_FILTERED', macPrefix: 'aa:00:05', subnets: [{ cidr: '192.168.5.0/24' }, { cidr: 'fd00:5::/64' }] }],
  ports: [{ id: 'p', network: 'n', mac: 'aa:00:05:00:00:01', addresses: ['192.168.5.7', 'fd00:5::7'], standby }],
});

describe('DHCP and RA for a standby port', () => {
  it('answer nothing before the switch and everything after', () => {
    const before = validateHostState(doc(true)).state;
    expect(buildBindings(before).byIfname.size).toBe(0);
    expect(buildBindings(before).ports).toEqual(new Set(['tapp']));
    expect(raBindings(before).size).toBe(0);
    const after = validateHostState(doc(false)).state;
    expect(buildBindings(after).byIfname.get('tapp')?.ip).toBe('192.168.5.7');
    expect(raBindings(after).has('tapp')).toBe(true);
  });
});
