// Property-based fuzz of the whole API (issue 18): requests generated from the API's own request
// schemas and mutated (nulls, wrong types, huge and unicode strings, bad escapes, overlapping
// CIDRs, reversed pools), across every route and three identities. After each request: never a
// 5xx, every 4xx is a Neutron error and every 400 names a field, and the store's invariants hold.
// Fixed seed and bounded count here; scripts/fuzz-api.ts runs the same with >= 100,000 requests.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningController } from '../../src/controller/server.js';
import { requestArbitrary } from '../helpers/api-fuzz.js';
import { sendAndCheck, type FuzzTally } from '../helpers/fuzz-run.js';
import { testController } from './fixture.js';

let ctl: RunningController;
beforeAll(async () => {
  ctl = await testController({ privateNetworks: { enabledTypes: ['MAC_FILTERED', 'VXLAN'], cidrRange: '10.0.0.0/14' } });
});
afterAll(async () => ctl?.close());

describe('API fuzz', () => {
  it('2,000 generated requests: no 5xx, every 400 names a field, the store stays consistent', async () => {
    const tally: FuzzTally = { requests: 0, byStatus: new Map() };
    const started = Date.now();
    await fc.assert(
      fc.asyncProperty(fc.array(requestArbitrary(), { minLength: 1, maxLength: 10 }), async (reqs) => {
        for (const req of reqs) {
          const problem = await sendAndCheck(ctl, req, tally);
          if (problem) throw new Error(`${problem}\nbody: ${JSON.stringify(req.body)?.slice(0, 500)}`);
        }
      }),
      // state carries over between runs, so shrinking would replay on another store: report the
      // first failure as it happened
      { seed: 18, numRuns: 360, endOnFailure: true },
    );
    const statuses = [...tally.byStatus.entries()].sort(([a], [b]) => a - b).map(([s, n]) => `${s}: ${n}`).join(', ');
    console.log(`API fuzz: ${tally.requests} requests in ${Date.now() - started} ms (${statuses})`);
    expect(tally.requests).toBeGreaterThan(1500);
    // the fuzz reached the service, not only the decoders: objects were made and refused
    expect(tally.byStatus.get(201) ?? 0).toBeGreaterThan(50);
    expect(tally.byStatus.get(400) ?? 0).toBeGreaterThan(100);
  }, 300_000);
});
