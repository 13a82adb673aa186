// Port security on the host: make plumb's nftables tables (`bridge plumb`, `inet plumb`,
// `arp plumb`) match the desired state, in one atomic `nft -f` batch per pass and only when
// something differs. Other tables are never touched: the live state is read with
// `nft -s list ruleset`, and every command names a plumb table.
//
// Listing is the expensive step (tens of ms at 1,000 ports), so the reconciler remembers the
// tables it last saw or wrote together with the kernel's ruleset generation: while that
// generation has not moved, nobody has committed anything and the live tables are known
// without listing. Any commit by anyone (a hand edit included) moves it, and the next pass lists.
import type { HostState } from '../state/schema.js';
import { logger as moduleLogger, type Logger } from '../util/log.js';
import { desiredFirewall } from './desired.js';
import { parseListing, type LiveTables } from './listing.js';
import { planFirewall, replaceAll, type FirewallPlan } from './plan.js';
import { applyElementBatch, ElementEncodingError } from './element-batch.js';
import { NfnetlinkError } from './nfnetlink.js';
import { nftRunner, type NftRunner } from './nft.js';
import { ensureBridgeNetfilter } from './bridge-netfilter.js';
import { rulesetGeneration } from './generation.js';
import { NFT_FAMILIES, skeletonLines, tableKey, type TableSpec } from './spec.js';
import { BridgeNetfilterUnavailableError, NftCommandError } from './errors.js';

export interface FirewallResult {
  /** Kernel writes this pass: nft batches plus sysctls; 0 when the live tables already matched. */
  writes: number;
}


/** Live tables as data, from specs we know are loaded. */
function liveFromSpecs(tables: TableSpec[]): LiveTables {
  return new Map(
    tables.map((t) => [tableKey(t.family), { skeleton: skeletonLines(t), elements: new Map(t.sets.map((s) => [s.name, new Set(s.elements)])) }]),
  );
}

export class FirewallReconciler {
  /** Lets the agent use an instance directly as a pass extension (src/agent/reconciler.ts). */
  readonly name = 'firewall';
  private readonly nft: NftRunner;
  private readonly log: Logger;
  private readonly netns: string | undefined;
  /** The tables live at ruleset generation `generation` (see the header comment). */
  private known: { generation: number; tables: TableSpec[] } | undefined;
  /**
   * Rendered skeleton -> the skeleton nft printed right after we loaded it, for the case where an
   * nft version prints a rule differently than we render it: without this every pass would
   * replace the table. Empty while rendering and printing agree (the normal case).
   */
  private readonly printedAs = new Map<string, string[]>();
  private lastSkipped = '';
  private useNetlink: boolean;

  constructor(opts: { netns?: string; logger?: Logger; runner?: NftRunner; elementsViaNft?: boolean } = {}) {
    this.netns = opts.netns;
    this.useNetlink = opts.elementsViaNft !== true;
    this.nft = opts.runner ?? nftRunner(opts.netns);
    this.log = opts.logger ?? moduleLogger('firewall', opts.netns ? { netns: opts.netns } : {});
  }

  async reconcile(state: HostState): Promise<FirewallResult> {
    const desired = desiredFirewall(state);
    const skippedText = desired.skipped.map((s) => `${s.id}: ${s.reason}`).join('; ');
    if (skippedText !== this.lastSkipped) {
      if (skippedText) this.log.warn({ skipped: desired.skipped }, 'ports left out of port security');
      this.lastSkipped = skippedText;
    }
    let writes = 0;
    // Without br_netfilter the rest is still applied; the error is raised after the tables.
    let deferred: BridgeNetfilterUnavailableError | undefined;
    if (desired.needsBridgeNetfilter) {
      try {
        writes += ensureBridgeNetfilter(this.netns);
      } catch (err) {
        if (!(err instanceof BridgeNetfilterUnavailableError)) throw err;
        deferred = err;
      }
    }

    const gen = rulesetGeneration(this.netns);
    let live: LiveTables;
    let seenAt: number | undefined = gen;
    if (this.known?.generation === gen) live = liveFromSpecs(this.known.tables);
    else {
      live = await this.observe(desired.tables);
      // Trust the listing only if nothing committed while nft was listing.
      if (rulesetGeneration(this.netns) !== gen) seenAt = undefined;
    }
    const plan = planFirewall(desired.tables, live);
    if (plan.script === '') {
      this.known = seenAt === undefined ? undefined : { generation: seenAt, tables: desired.tables };
      if (deferred) throw deferred;
      return { writes };
    }

    try {
      await this.write(plan);
    } catch (err) {
      if (!(err instanceof NftCommandError || err instanceof NfnetlinkError) || plan.replaced.length === desired.tables.length) throw err;
      // An element delta can race with a hand edit (an element already gone): replace instead.
      this.log.warn({ err: err.message }, 'element update failed; replacing plumb tables');
      seenAt = undefined;
      await this.nft.run(['-f', '-'], replaceAll(desired.tables).script);
      plan.replaced = desired.tables.map((t) => tableKey(t.family));
      plan.dropped = [];
    }
    writes++;
    // Our batch is one commit: if the generation moved by exactly one, nobody else wrote in
    // between and the live tables are now exactly `desired`.
    const after = rulesetGeneration(this.netns);
    this.known = seenAt !== undefined && after === ((seenAt + 1) >>> 0) ? { generation: after, tables: desired.tables } : undefined;
    this.log.info({ replaced: plan.replaced, dropped: plan.dropped, added: plan.added, deleted: plan.deleted }, 'port security rules updated');
    if (plan.replaced.length > 0) await this.recordPrintedSkeletons(desired.tables.filter((t) => plan.replaced.includes(tableKey(t.family))));
    if (deferred) throw deferred;
    return { writes };
  }

  /**
   * Element-only changes go straight to the kernel as one nfnetlink batch; anything that
   * replaces a table goes through `nft -f` (one batch too). Both are single transactions.
   */
  private async write(plan: FirewallPlan): Promise<void> {
    if (plan.replaced.length === 0 && plan.dropped.length === 0 && this.useNetlink) {
      try {
        applyElementBatch(this.netns, plan.deltas);
        return;
      } catch (err) {
        if (!(err instanceof ElementEncodingError)) throw err;
        // An element this encoder cannot express: let nft parse it instead, and stop trying.
        this.log.warn({ err: err.message }, 'falling back to nft for element updates');
        this.useNetlink = false;
      }
    }
    await this.nft.run(['-f', '-'], plan.script);
  }

  /** Remove plumb's tables (agent shutdown with --cleanup, tests). Other tables stay. */
  async remove(): Promise<void> {
    this.known = undefined;
    const script = NFT_FAMILIES.map((f) => `table ${tableKey(f)}\ndelete table ${tableKey(f)}\n`).join('');
    await this.nft.run(['-f', '-'], script);
  }

  /** List the ruleset and parse plumb's tables out of it. */
  private async observe(desired: TableSpec[]): Promise<LiveTables> {
    const live = parseListing(await this.nft.run(['-s', 'list', 'ruleset']));
    // Substitute what nft printed for a skeleton we loaded earlier, if it differed (see printedAs).
    for (const t of desired) {
      const have = live.get(tableKey(t.family));
      const printed = this.printedAs.get(skeletonLines(t).join('\n'));
      if (have && printed && have.skeleton.join('\n') === printed.join('\n')) have.skeleton = skeletonLines(t);
    }
    return live;
  }

  private async recordPrintedSkeletons(tables: TableSpec[]): Promise<void> {
    const live = parseListing(await this.nft.run(['-s', 'list', 'ruleset']));
    for (const t of tables) {
      const rendered = skeletonLines(t);
      const printed = live.get(tableKey(t.family))?.skeleton;
      if (!printed || printed.join('\n') === rendered.join('\n')) continue;
      this.log.warn({ table: tableKey(t.family) }, 'nft prints this table differently from how plumb renders it; comparing against the printed form');
      this.printedAs.set(rendered.join('\n'), printed);
    }
  }
}
