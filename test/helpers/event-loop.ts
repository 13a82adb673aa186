// How the event loop fares while `work` runs: the longest gap between 1 ms timers (a stall), the
// share of the time the main thread was busy rather than waiting for events (utilisation), and
// how long the work took. Used by the responsiveness tests and scripts/bench-delete.ts.
export async function loopDuring(work: () => Promise<unknown>): Promise<{ ms: number; stallMs: number; elu: number }> {
  let worst = 0;
  let last = performance.now();
  let running = true;
  const tick = (): void => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
    if (running) setTimeout(tick, 1);
  };
  setTimeout(tick, 1);
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  try {
    await work();
  } finally {
    running = false;
  }
  return { ms: performance.now() - t0, stallMs: worst, elu: performance.eventLoopUtilization(elu0).utilization };
}
