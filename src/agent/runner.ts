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
  private periodic: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private pending = new Set<string>();
  private lastStart = -Infinity;
  private backoffMs = 0;
  private stopped = false;

  constructor(
    private readonly fn: RunFn,
    private readonly opts: RunnerOptions = DEFAULT_RUNNER_OPTIONS,
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  /** Ask for a run; merged with any other pending trigger. */
  trigger(reason: string): void {
    if (this.stopped) return;
    this.pending.add(reason);
    this.schedule(0);
  }

  /** Stop scheduling and wait for a run in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.periodic);
    await this.running;
  }

  private schedule(extraDelayMs: number): void {
    if (this.running || this.timer || this.stopped) return;
    const sinceLast = performance.now() - this.lastStart;
    const delay = Math.max(extraDelayMs, this.opts.minIntervalMs - sinceLast, 0);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.runOnce().finally(() => {
        this.running = undefined;
        if (this.pending.size > 0) this.schedule(0);
      });
    }, delay);
  }

  private async runOnce(): Promise<void> {
    const reasons = [...this.pending];
    this.pending.clear();
    this.lastStart = performance.now();
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
    } else {
      this.backoffMs = this.backoffMs === 0 ? this.opts.backoffInitialMs : Math.min(this.backoffMs * 2, this.opts.backoffMaxMs);
      this.pending.add('retry');
      clearTimeout(this.timer);
      this.timer = undefined;
      // the retry waits out the backoff; triggers arriving meanwhile join it
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.schedule(0);
      }, this.backoffMs);
    }
    this.periodic = setTimeout(() => this.trigger('resync'), this.opts.maxIntervalMs);
    this.periodic.unref?.();
  }
}
