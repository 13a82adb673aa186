// The ruleset generation read over nfnetlink moves on every commit in the namespace, and only there.
import { afterAll, describe, expect } from 'vitest';
import { Netns, canUseNetns, execIn } from '../helpers/netns.js';
import { itUnless } from '../helpers/skip.js';
import { rulesetGeneration } from '../../src/firewall/generation.js';

const it = itUnless(canUseNetns() ? undefined : 'needs root to create network namespaces');

describe('rulesetGeneration', () => {
  const netns = new Netns();
  afterAll(() => netns.cleanup());

  it('moves by one per committed nft transaction, in that namespace only', () => {
    const a = netns.add('pt-fg');
    const b = netns.add('pt-fg');
    const a0 = rulesetGeneration(a);
    const b0 = rulesetGeneration(b);
    execIn(a, 'nft', ['add table inet x; add chain inet x c']); // one batch, one commit
    expect(rulesetGeneration(a)).toBe(a0 + 1);
    expect(rulesetGeneration(b)).toBe(b0);
    execIn(a, 'nft', ['list ruleset']); // reads do not move it
    expect(rulesetGeneration(a)).toBe(a0 + 1);
  });
});
