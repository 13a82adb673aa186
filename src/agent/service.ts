// The agent's long-running loop: desired documents from a source, kernel events and a periodic
// resync all trigger one bounded-frequency runner; each run reconciles the latest document.
// While no valid document is known (or the source is away) the kernel is left as it is.
import type { Logger } from 'pino';
import type { KernelEvent, KernelHandle, Link } from '../kernel/types.js';
import { validateHostState, type ValidatedState } from '../state/validate.js';
import { errorMessage } from '../util/errors.js';
import { logger } from '../util/log.js';
import { isOwnedLink } from './ownership.js';
import { ObservedCache } from './observed-cache.js';
import { Reconciler, type PassExtension, type PassResult } from './reconciler.js';
import { BoundedRunner, DEFAULT_RUNNER_OPTIONS, type RunnerOptions } from './runner.js';
import type { StateSource } from './state-file.js';

export interface AgentServiceOptions {
  handle: KernelHandle;
  source: StateSource;
  extensions?: PassExtension[];
  runner?: Partial<RunnerOptions>;
  /** Called after every pass (status reporting, metrics, DHCP bindings). */
  onPass?: (result: PassResult, state: ValidatedState) => void;
  /** Called with every accepted document before the pass (e.g. to update DHCP bindings at once). */
  onState?: (state: ValidatedState) => void;
  /** Called after every pass with the links the host has now (from the observed-state cache). */
  onLinks?: (links: readonly Link[]) => void;
  /** The namespaces veth peers may go into (agent config veth.netnsAllowed); undefined: any (state files, tests). */
  netnsAllowed?: readonly string[];
  log?: Logger;
}

/** How long a kernel notification may wait for a pass triggered by something else (drift repair stays well under 1 s). */
const KERNEL_EVENT_DELAY_MS = 50;

/** Proxy ARP/NDP entries are not notified by the kernel: how often to look for hand-made changes. */
const PROXY_POLL_MS = 400;

export class AgentService {
  private latest: ValidatedState | undefined;
  /** A document received but not yet validated. */
  private pending: { doc: unknown } | undefined;
  private readonly reconciler: Reconciler;
  private readonly cache: ObservedCache;
  private readonly runner: BoundedRunner;
  private readonly log: Logger;
  private ownedIndexes = new Set<number>();
  private unsubscribe: (() => void) | undefined;
  private proxyPoll: NodeJS.Timeout | undefined;
  private polling = false;
  passes = 0;

  constructor(private readonly opts: AgentServiceOptions) {
    this.log = opts.log ?? logger('agent');
    this.cache = new ObservedCache(opts.handle);
    this.reconciler = new Reconciler(opts.handle, { extensions: opts.extensions ?? [], cache: this.cache, log: this.log.child({ module: 'reconciler' }) });
    this.runner = new BoundedRunner((reasons) => this.pass(reasons), { ...DEFAULT_RUNNER_OPTIONS, ...opts.runner }, (err) =>
      this.log.error({ err: errorMessage(err) }, 'reconcile pass crashed'),
    );
  }

  start(): void {
    this.unsubscribe = this.opts.handle.subscribe((e) => this.onKernelEvent(e));
    this.proxyPoll = setInterval(() => {
      if (!this.latest || this.polling) return;
      this.polling = true;
      this.cache
        .proxiesChanged()
        .then((changed) => changed && this.runner.trigger('kernel-proxy'))
        .catch((err: unknown) => this.log.warn({ err: errorMessage(err) }, 'proxy entry check failed'))
        .finally(() => (this.polling = false));
    }, PROXY_POLL_MS);
    this.proxyPoll.unref();
    this.opts.source.start(
      (doc) => {
        // Validated when the next pass starts, not here: documents arriving faster than passes
        // (a burst of ports) cost one validation per pass, not one each.
        this.pending = { doc };
        this.runner.trigger('desired-state', 0, { fresh: true });
      },
      (err) => this.log.error({ err: errorMessage(err) }, 'desired state unavailable; kernel left as it is'),
    );
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    clearInterval(this.proxyPoll);
    await this.opts.source.stop();
    await this.runner.stop();
    this.cache.close();
  }

  private onKernelEvent(e: KernelEvent): void {
    // Neighbour churn (reachable/stale) on foreign devices is constant on a busy host; only
    // deletions and events on plumb's own devices can be drift.
    if (e.kind === 'neigh' && !e.deleted && (e.ifIndex === undefined || !this.ownedIndexes.has(e.ifIndex))) return;
    // Most notifications are the echo of the agent's own writes; a pass for a new document
    // (arriving every few ms in a burst) covers them as well, so they may wait a little for one.
    if (this.latest) this.runner.trigger(`kernel-${e.kind}`, KERNEL_EVENT_DELAY_MS);
  }

  /** Take the newest document, if one arrived since the last pass. */
  private acceptPending(): void {
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    try {
      const t0 = performance.now();
      const v = validateHostState(p.doc, this.opts.netnsAllowed ? { netnsAllowed: this.opts.netnsAllowed } : {});
      const t1 = performance.now();
      this.latest = v;
      // bindings change with the desired state, before the kernel pass
      this.opts.onState?.(v);
      this.log.debug({ generation: v.state.generation, validateMs: round1(t1 - t0), onStateMs: round1(performance.now() - t1) }, 'desired state accepted');
    } catch (err) {
      // the whole document is unusable: keep the kernel as it is
      this.log.error({ err: errorMessage(err) }, 'desired state rejected; kernel left as it is');
    }
  }

  private async pass(reasons: string[]): Promise<boolean> {
    this.acceptPending();
    const state = this.latest;
    if (!state) return true;
    // The periodic resync and retries after failures read the whole kernel state again, so
    // whatever no notification told us (a hand-deleted proxy entry, a sysctl) is repaired too.
    if (reasons.includes('resync') || reasons.includes('retry')) this.cache.invalidate();
    const result = await this.reconciler.reconcile(state);
    this.passes += 1;
    const links = await this.cache.currentLinks();
    this.ownedIndexes = new Set(links.filter(isOwnedLink).map((l) => l.index));
    this.opts.onLinks?.(links);
    this.log.debug({ reasons }, 'pass triggered');
    this.opts.onPass?.(result, state);
    // Rejections are not retried with backoff (a new document is needed); failures are.
    return result.failures.length === 0;
  }
}

const round1 = (ms: number): number => Math.round(ms * 10) / 10;
