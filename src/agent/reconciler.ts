// One reconcile pass: validated desired state -> desired kernel model -> observe -> diff ->
// execute, plus extensions (port security) that reconcile their own kernel objects. Level
// based: every pass starts from the latest desired state and what the kernel holds now.
import type { Logger } from 'pino';
import type { KernelHandle, Link } from '../kernel/types.js';
import type { HostState, Network, Port } from '../state/schema.js';
import type { Rejection, ValidatedState } from '../state/validate.js';
import { errorMessage } from '../util/errors.js';
import { logger } from '../util/log.js';
import { buildDesiredKernel, type IdResolver } from './desired.js';
import { diff } from './diff.js';
import { execute, type OpFailure } from './execute.js';
import type { ModelProblem } from './model.js';
import { observe } from './observe.js';
import type { ObservedCache } from './observed-cache.js';
import type { Op } from './ops.js';
import { ownerKey, type Owner } from './ownership.js';
import { systemIdResolver } from './users.js';

export interface PortStatus {
  id: string;
  /** DOWN: waiting on the VM manager (an adopted tap not there yet), with the reason. */
  status: 'ACTIVE' | 'DOWN' | 'ERROR';
  reason?: string;
  revision: number;
}

/** A part of the host's kernel state reconciled after links exist (e.g. nftables rules). */
export interface PassExtension {
  name: string;
  reconcile(state: HostState): Promise<{ writes: number }>;
}

export interface PassResult {
  generation: number;
  ops: Op[];
  writes: number;
  failures: OpFailure[];
  problems: ModelProblem[];
  /** Ports waiting on the VM manager: reported DOWN; they do not make the pass unconverged. */
  pending: ModelProblem[];
  rejections: Rejection[];
  ports: PortStatus[];
  /** Everything desired is in place: no rejection, problem or failure. */
  converged: boolean;
  durationMs: number;
  /** Where the pass spent its time (ms): observe+diff, kernel ops, then each extension by name. */
  phasesMs: Record<string, number>;
}

export interface ReconcilerOptions {
  ids?: () => IdResolver;
  /** Observed state kept from notifications (long-running agent); without it every pass dumps. */
  cache?: ObservedCache;
  extensions?: PassExtension[];
  log?: Logger;
}

export class Reconciler {
  // Last accepted version of every object, so a later rejected version (frozen) keeps
  // producing exactly the kernel objects it had: a rejection changes nothing in the kernel.
  private readonly lastNetworks = new Map<string, Network>();
  private readonly lastPorts = new Map<string, Port>();
  private readonly log: Logger;

  constructor(
    private readonly handle: KernelHandle,
    private readonly opts: ReconcilerOptions = {},
  ) {
    this.log = opts.log ?? logger('reconciler');
  }

  /** The ops a pass would apply now, without applying them. */
  async plan(v: ValidatedState): Promise<{ ops: Op[]; problems: ModelProblem[] }> {
    const { ops, problems } = await this.computePlan(this.withLastGood(v), v);
    return { ops, problems };
  }

  async reconcile(v: ValidatedState): Promise<PassResult> {
    const started = performance.now();
    const phasesMs: Record<string, number> = {};
    let mark = started;
    const lap = (name: string): void => {
      const now = performance.now();
      phasesMs[name] = Math.round((now - mark) * 10) / 10;
      mark = now;
    };
    const state = this.withLastGood(v);
    const { ops, problems, pending, links } = await this.computePlan(state, v);
    lap('plan');
    const cache = this.opts.cache;
    const result = await execute(this.handle, ops, links, cache ? () => cache.currentLinks() : undefined);
    if (cache) {
      cache.forgetSysctls(ops.flatMap((o) => (o.kind === 'sysctlSet' ? [o.path] : [])));
      if (ops.some((o) => o.kind === 'neighReplace' || o.kind === 'neighDel')) cache.forgetProxies();
      // a failed write may have left something the notifications do not describe
      if (result.failures.length > 0) cache.invalidate();
    }
    lap('execute');
    let writes = result.writes;
    const failures = [...result.failures];
    for (const ext of this.opts.extensions ?? []) {
      try {
        writes += (await ext.reconcile(state)).writes;
      } catch (err) {
        failures.push({ owner: { kind: 'network', id: `(${ext.name})` }, op: ext.name, reason: errorMessage(err) });
      }
      lap(ext.name);
    }
    this.remember(v);
    const ports = portStatuses(v, problems, failures, pending);
    const durationMs = performance.now() - started;
    const converged = v.rejections.length === 0 && problems.length === 0 && failures.length === 0;
    this.log.info(
      { generation: v.state.generation, ops: ops.length, writes, failures: failures.length, problems: problems.length, rejections: v.rejections.length, durationMs: Math.round(durationMs * 10) / 10, phasesMs },
      'reconcile pass',
    );
    for (const f of failures) this.log.warn({ owner: ownerKey(f.owner), op: f.op, reason: f.reason }, 'op failed');
    for (const p of problems) this.log.warn({ owner: ownerKey(p.owner), reason: p.reason }, 'not applied');
    for (const r of v.rejections) this.log.warn({ id: r.id, field: r.field, reason: r.reason }, 'rejected');
    return { generation: v.state.generation, ops, writes, failures, problems, pending, rejections: v.rejections, ports, converged, durationMs, phasesMs };
  }

  private async computePlan(state: HostState, v: ValidatedState): Promise<{ ops: Op[]; problems: ModelProblem[]; pending: ModelProblem[]; links: Link[] }> {
    const cache = this.opts.cache;
    const links = cache ? await cache.currentLinks() : await this.handle.linkList();
    const desired = buildDesiredKernel(state, links, (this.opts.ids ?? systemIdResolver)());
    const paths = desired.sysctls.map((s) => s.path);
    const observed = cache ? await cache.observed(links, paths) : await observe(this.handle, links, paths);
    const frozen = new Set<string>();
    for (const id of v.frozenNetworks) frozen.add(ownerKey({ kind: 'network', id }));
    for (const id of v.frozenPorts) frozen.add(ownerKey({ kind: 'port', id }));
    return { ...diff(desired, observed, frozen), links };
  }

  private withLastGood(v: ValidatedState): HostState {
    const networks = [...v.state.networks];
    const ports = [...v.state.ports];
    for (const id of v.frozenNetworks) {
      const n = this.lastNetworks.get(id);
      if (n && !networks.some((x) => x.id === id)) networks.push(n);
    }
    for (const id of v.frozenPorts) {
      const p = this.lastPorts.get(id);
      if (p && !ports.some((x) => x.id === id) && networks.some((n) => n.id === p.network)) ports.push(p);
    }
    return { ...v.state, networks, ports };
  }

  private remember(v: ValidatedState): void {
    for (const n of v.state.networks) this.lastNetworks.set(n.id, n);
    for (const p of v.state.ports) this.lastPorts.set(p.id, p);
    // sets, not a search per id: this runs every pass, over every port of the host
    const networks = new Set(v.state.networks.map((n) => n.id));
    const ports = new Set(v.state.ports.map((p) => p.id));
    for (const id of [...this.lastNetworks.keys()]) if (!networks.has(id) && !v.frozenNetworks.has(id)) this.lastNetworks.delete(id);
    for (const id of [...this.lastPorts.keys()]) if (!ports.has(id) && !v.frozenPorts.has(id)) this.lastPorts.delete(id);
  }
}

function portStatuses(v: ValidatedState, problems: ModelProblem[], failures: OpFailure[], pending: ModelProblem[]): PortStatus[] {
  const waiting = new Map(pending.map((p) => [ownerKey(p.owner), p.reason]));
  const trouble = new Map<string, string>();
  const note = (o: Owner, reason: string): void => {
    const k = ownerKey(o);
    if (!trouble.has(k)) trouble.set(k, reason);
  };
  for (const p of problems) note(p.owner, p.reason);
  for (const f of failures) note(f.owner, `${f.op}: ${f.reason}`);
  const out: PortStatus[] = [];
  for (const p of v.state.ports) {
    const reason = trouble.get(ownerKey({ kind: 'port', id: p.id })) ?? trouble.get(ownerKey({ kind: 'network', id: p.network }));
    const wait = waiting.get(ownerKey({ kind: 'port', id: p.id }));
    if (reason) out.push({ id: p.id, status: 'ERROR', reason, revision: p.revision });
    else if (wait) out.push({ id: p.id, status: 'DOWN', reason: wait, revision: p.revision });
    else out.push({ id: p.id, status: 'ACTIVE', revision: p.revision });
  }
  for (const r of v.rejections) {
    if (r.kind === 'port' && r.id) out.push({ id: r.id, status: 'ERROR', reason: `${r.field}: ${r.reason}`, revision: 0 });
  }
  return out;
}
