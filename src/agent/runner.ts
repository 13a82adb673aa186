// A bounded-frequency runner in the spirit of kube-proxy's: any number of triggers merge into
// at most one pending run; runs are at least `minIntervalMs` apart, at most `maxIntervalMs`
// apart (periodic resync), and a failed run is retried with exponential backoff.

export interface RunnerOptions {
  minIntervalMs: number;
  maxIntervalMs: number;
  backoffInitialMs: number;
  backoffMaxMs: number;
}

// Passes read the observed state from notifications (observed-cache.ts), so a pass over an
// unchanged host costs milliseconds: a short minimum interval keeps a new port's latency low
// while bursts of triggers still merge into one pass.
export const DEFAULT_RUNNER_OPTIONS: RunnerOptions = {
  minIntervalMs: 5,
  maxIntervalMs: 60_000,
  backoffInitialMs: 500,
  backoffMaxMs: 30_000,
};

/** The work: resolves true when it succeeded (converged), false to be retried with backoff. */
export type RunFn = (reasons: string[]) => Promise<boolean>;

export class BoundedRunner {
  private timer: NodeJS.Timeout | undefined;
  /** When the armed timer fires (performance.now() time). */
  private timerAt = Infinity;
  private periodic: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private pending = new Set<string>();
  /** The latest time the pending triggers may wait until (the earliest of their deadlines). */
  private dueAt = Infinity;
  /** No run before this while a failed run backs off; triggers arriving meanwhile join the retry. */
  private retryAt = -Infinity;
  private lastStart = -Infinity;
  /** When a run last carried 'resync'. */
  private lastResync = performance.now();
  private backoffMs = 0;
  private stopped = false;

  constructor(
    private readonly fn: RunFn,
    private readonly opts: RunnerOptions = DEFAULT_RUNNER_OPTIONS,
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  /**
   * Ask for a run; merged with any other pending trigger. `delayMs`: how long this trigger may
   * wait for others to join it (a run that happens sooner for another reason covers it too).
   */
  trigger(reason: string, delayMs = 0, opts: { fresh?: boolean } = {}): void {
    if (this.stopped) return;
    // New input (a new desired state) may be what the failed run needed: it does not wait out
    // the backoff of failures that happened with the old input, and a failure with it starts
    // the backoff over. Retries of the same input keep backing off.
    if (opts.fresh && this.backoffMs > 0) {
      this.backoffMs = 0;
      this.retryAt = -Infinity;
      clearTimeout(this.timer);
      this.timer = undefined;
      this.timerAt = Infinity;
    }
    this.pending.add(reason);
    this.dueAt = Math.min(this.dueAt, performance.now() + delayMs);
    this.schedule();
  }

  /** Stop scheduling and wait for a run in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.periodic);
    await this.running;
  }

  private schedule(): void {
    if (this.running || this.stopped || this.pending.size === 0) return;
    const at = Math.max(this.dueAt, this.lastStart + this.opts.minIntervalMs, this.retryAt);
    if (this.timer && this.timerAt <= at) return;
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.running = this.runOnce().finally(() => {
        this.running = undefined;
        this.schedule();
      });
    }, Math.max(0, at - performance.now()));
  }

  private async runOnce(): Promise<void> {
    const reasons = [...this.pending];
    this.pending.clear();
    this.dueAt = Infinity;
    this.lastStart = performance.now();
    // The periodic timer below fires only after a quiet interval (every run re-arms it): a
    // runner that is never quiet still marks a run 'resync' at least every maxIntervalMs.
    if (!reasons.includes('resync') && this.lastStart - this.lastResync >= this.opts.maxIntervalMs) reasons.push('resync');
    if (reasons.includes('resync')) this.lastResync = this.lastStart;
    clearTimeout(this.periodic);
    let ok = false;
    try {
      ok = await this.fn(reasons);
    } catch (err) {
      this.onError(err);
    }
    if (this.stopped) return;
    if (ok) {
      this.backoffMs = 0;
      this.retryAt = -Infinity;
    } else {
      this.backoffMs = this.backoffMs === 0 ? this.opts.backoffInitialMs : Math.min(this.backoffMs * 2, this.opts.backoffMaxMs);
      // the retry waits out the backoff; triggers arriving meanwhile join it
      this.retryAt = performance.now() + this.backoffMs;
      this.pending.add('retry');
      this.dueAt = Math.min(this.dueAt, this.retryAt);
    }
    this.periodic = setTimeout(() => this.trigger('resync'), this.opts.maxIntervalMs);
    this.periodic.unref?.();
  }
}
