// Element-only changes go to the kernel as one nfnetlink batch. Whatever that batch writes must
// be exactly what nft itself would have loaded: after each change a fresh reconciler (no
// memory, so it lists with nft and compares text) must find nothing to do. The nft fallback
// path is held to the same standard.
import { afterAll, describe, expect } from 'vitest';
import { Netns, canUseNetns } from '../helpers/netns.js';
import { itUnless } from '../helpers/skip.js';
import { FirewallReconciler } from '../../src/firewall/reconciler.js';
import { rulesetGeneration } from '../../src/firewall/generation.js';
import { setShape } from '../../src/firewall/element-batch.js';
import type { FirewallProfile } from '../../src/state/schema.js';
import { hostState } from './fixtures.js';
import { it as plainIt } from 'vitest';

const it = itUnless(canUseNetns() ? undefined : 'needs root to create network namespaces');

const mixed = (p: FirewallProfile, extra: boolean) =>
  hostState(
    [
      { id: 'lan', type: 'CUSTOM', bridge: 'br0', subnets: [{ cidr: '10.0.0.0/24' }, { cidr: '2001:db8::/64' }] },
      { id: 'mfa', type: 'MAC_FILTERED', macPrefix: 'aa:00:01', subnets: [{ cidr: '10.0.0.0/24' }] },
      { id: 'mfb', type: 'MAC_FILTERED', macPrefix: 'aa:00:02:03', subnets: [{ cidr: '10.0.0.0/24' }, { cidr: 'fd00::/64' }] },
      { id: 'pub', type: 'IP_LESS_ROUTED', uplink: 'eth9', routingTable: 10, subnets: [{ cidr: '203.0.113.0/24' }, { cidr: '2001:db8:9::/64' }] },
    ],
    [
      { id: 'a', network: 'lan', ifname: 'tapa', mac: '02:00:00:00:00:0a', addresses: ['10.0.0.5', '2001:db8::5'], firewallProfile: p },
      { id: 'm', network: 'mfa', ifname: 'tapm', mac: 'aa:00:01:12:34:56', addresses: ['10.0.0.6'] },
      ...(extra
        ? [
            { id: 'm2', network: 'mfb', ifname: 'tapm2', mac: 'aa:00:02:03:34:56', addresses: ['10.0.0.7', 'fd00::7'], firewallProfile: 'PROTECTED' as const },
            { id: 'r2', network: 'pub', ifname: 'tapr2', mac: '02:00:00:00:00:0d', addresses: ['203.0.113.8', '2001:db8:9::8'], firewallProfile: 'PROTECTED' as const },
          ]
        : []),
      { id: 'r', network: 'pub', ifname: 'tapr', mac: '02:00:00:00:00:0c', addresses: ['203.0.113.7'], firewallProfile: 'ENABLED' },
    ],
    { macFiltered: { bridge: 'plumbmf0', uplink: 'eth1' } },
  );

describe('element updates', () => {
  const netns = new Netns();
  afterAll(() => netns.cleanup());

  for (const viaNft of [false, true]) {
    it(`${viaNft ? 'through nft' : 'as an nfnetlink batch'}: one commit per change, identical to what nft loads`, async () => {
      const ns = netns.add('pt-fe');
      const fw = new FirewallReconciler({ netns: ns, elementsViaNft: viaNft });
      await fw.reconcile(mixed('ENABLED', false));
      const steps: [FirewallProfile, boolean][] = [['DISABLED', true], ['ENABLED', true], ['ENABLED', false], ['PROTECTED', true], ['ENABLED', false]];
      for (const [p, extra] of steps) {
        const g0 = rulesetGeneration(ns);
        expect((await fw.reconcile(mixed(p, extra))).writes).toBe(1);
        expect(rulesetGeneration(ns)).toBe(g0 + 1); // one atomic transaction
        expect((await new FirewallReconciler({ netns: ns }).reconcile(mixed(p, extra))).writes).toBe(0);
        expect((await fw.reconcile(mixed(p, extra))).writes).toBe(0);
      }
    });
  }
});

describe('setShape', () => {
  plainIt('reads key fields, intervals and verdict maps from the declarations', () => {
    expect(setShape(['type ifname . ether_addr'])).toEqual({ fields: ['ifname', 'ether_addr'], interval: false, verdictMap: false });
    expect(setShape(['type ether_addr . ifname', 'flags interval']).interval).toBe(true);
    expect(setShape(['typeof iifname . @th,64,128']).fields).toEqual(['ifname', 'int128']);
    expect(setShape(['type ifname : verdict']).verdictMap).toBe(true);
    expect(() => setShape(['type inet_service'])).toThrow(/unsupported set key field/);
  });
});
