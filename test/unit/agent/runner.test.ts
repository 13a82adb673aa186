// The bounded-frequency runner on fake timers: merging, per-trigger delays, the minimum
// interval, and backoff after a failed run.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BoundedRunner } from '../../../src/agent/runner.js';

const OPTS = { minIntervalMs: 5, maxIntervalMs: 60_000, backoffInitialMs: 500, backoffMaxMs: 30_000 };

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'performance'] });
});
afterEach(() => {
  vi.useRealTimers();
});

function recorder(results: boolean[] = []) {
  const runs: { at: number; reasons: string[] }[] = [];
  const fn = async (reasons: string[]): Promise<boolean> => {
    runs.push({ at: performance.now(), reasons: [...reasons].sort() });
    return results.shift() ?? true;
  };
  return { runs, fn };
}

describe('BoundedRunner', () => {
  it('merges triggers of the same moment into one run', async () => {
    const { runs, fn } = recorder();
    const r = new BoundedRunner(fn, OPTS);
    r.trigger('a');
    r.trigger('b');
    r.trigger('a');
    await vi.advanceTimersByTimeAsync(1);
    expect(runs).toEqual([{ at: expect.any(Number), reasons: ['a', 'b'] }]);
    await r.stop();
  });

  it('a delayed trigger waits its delay, unless an immediate one comes first and takes it along', async () => {
    const { runs, fn } = recorder();
    const r = new BoundedRunner(fn, OPTS);
    const t0 = performance.now();
    r.trigger('kernel', 50);
    await vi.advanceTimersByTimeAsync(20);
    expect(runs).toHaveLength(0);
    r.trigger('desired');
    await vi.advanceTimersByTimeAsync(1);
    expect(runs).toHaveLength(1);
    expect(runs[0]?.reasons).toEqual(['desired', 'kernel']);
    expect((runs[0]?.at ?? 0) - t0).toBeLessThan(50);
    // nothing left over: no second run at the 50 ms mark
    await vi.advanceTimersByTimeAsync(100);
    expect(runs).toHaveLength(1);
    // alone, it runs once its delay is over
    const t1 = performance.now();
    r.trigger('kernel', 50);
    await vi.advanceTimersByTimeAsync(49);
    expect(runs).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(2);
    expect(runs).toHaveLength(2);
    expect((runs[1]?.at ?? 0) - t1).toBeGreaterThanOrEqual(50);
    await r.stop();
  });

  it('keeps runs the minimum interval apart', async () => {
    const { runs, fn } = recorder();
    const r = new BoundedRunner(fn, { ...OPTS, minIntervalMs: 100 });
    r.trigger('a');
    await vi.advanceTimersByTimeAsync(1);
    r.trigger('b');
    await vi.advanceTimersByTimeAsync(50);
    expect(runs).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(60);
    expect(runs).toHaveLength(2);
    expect((runs[1]?.at ?? 0) - (runs[0]?.at ?? 0)).toBeGreaterThanOrEqual(100);
    await r.stop();
  });

  it('retries a failed run after the backoff; triggers arriving meanwhile join the retry', async () => {
    const { runs, fn } = recorder([false, true]);
    const r = new BoundedRunner(fn, OPTS);
    r.trigger('a');
    await vi.advanceTimersByTimeAsync(1);
    expect(runs).toHaveLength(1);
    r.trigger('b');
    await vi.advanceTimersByTimeAsync(400);
    expect(runs).toHaveLength(1); // still backing off
    await vi.advanceTimersByTimeAsync(150);
    expect(runs).toHaveLength(2);
    expect(runs[1]?.reasons).toEqual(['b', 'retry']);
    await r.stop();
  });

  it('a fresh input does not wait out the backoff of failures with the old one; retries of the same input still do', async () => {
    const { runs, fn } = recorder([false, false, false, true]);
    const r = new BoundedRunner(fn, OPTS);
    r.trigger('a');
    await vi.advanceTimersByTimeAsync(1);
    await vi.advanceTimersByTimeAsync(501); // first retry, fails again: backoff now 1 s
    expect(runs).toHaveLength(2);
    r.trigger('kernel'); // not fresh: joins the retry in 1 s
    await vi.advanceTimersByTimeAsync(100);
    expect(runs).toHaveLength(2);
    r.trigger('desired', 0, { fresh: true });
    await vi.advanceTimersByTimeAsync(1);
    expect(runs).toHaveLength(3);
    expect(runs[2]?.reasons).toEqual(['desired', 'kernel', 'retry']);
    // it failed too: the backoff starts over at its initial 500 ms, not 2 s
    await vi.advanceTimersByTimeAsync(490);
    expect(runs).toHaveLength(3);
    await vi.advanceTimersByTimeAsync(20);
    expect(runs).toHaveLength(4);
    await r.stop();
  });
});
