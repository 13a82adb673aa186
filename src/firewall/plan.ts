// Compare the desired tables with the live ones and produce at most one nft batch: nothing when
// they match; element additions/deletions when only set contents differ (a port change costs a
// few elements, whatever the port count); an atomic replace of a table whose rules or set
// declarations differ (first start, upgrade, or a rule deleted or edited by hand).
import type { LiveTables } from './listing.js';
import { NFT_FAMILIES, renderReplace, skeletonLines, tableKey, TABLE_NAME, type TableSpec } from './spec.js';
import type { SetDelta } from './element-batch.js';

export interface FirewallPlan {
  /** Empty when nothing differs. */
  script: string;
  /** Tables replaced whole. */
  replaced: string[];
  /** plumb tables deleted because none is desired. */
  dropped: string[];
  added: number;
  deleted: number;
  /** The element changes of tables not replaced (the same content as their part of `script`). */
  deltas: SetDelta[];
}

function sameLines(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((l, i) => l === b[i]);
}

/** The full replacement of every table, regardless of the live state. */
export function replaceAll(tables: TableSpec[]): FirewallPlan {
  return {
    script: tables.map(renderReplace).join(''),
    replaced: tables.map((t) => tableKey(t.family)),
    dropped: [],
    added: 0,
    deleted: 0,
    deltas: [],
  };
}

export function planFirewall(desired: TableSpec[], live: LiveTables): FirewallPlan {
  const plan: FirewallPlan = { script: '', replaced: [], dropped: [], added: 0, deleted: 0, deltas: [] };
  const parts: string[] = [];
  for (const t of desired) {
    const key = tableKey(t.family);
    const have = live.get(key);
    if (!have || !sameLines(have.skeleton, skeletonLines(t))) {
      parts.push(renderReplace(t));
      plan.replaced.push(key);
      continue;
    }
    const dels: string[] = [];
    const adds: string[] = [];
    for (const s of t.sets) {
      const liveEls = have.elements.get(s.name) ?? new Set<string>();
      const want = new Set(s.elements);
      const gone = [...liveEls].filter((e) => !want.has(e));
      const fresh = s.elements.filter((e) => !liveEls.has(e));
      if (gone.length > 0) dels.push(`delete element ${t.family} ${TABLE_NAME} ${s.name} { ${gone.join(', ')} }`);
      if (fresh.length > 0) adds.push(`add element ${t.family} ${TABLE_NAME} ${s.name} { ${fresh.join(', ')} }`);
      plan.deleted += gone.length;
      plan.added += fresh.length;
      if (gone.length + fresh.length > 0) plan.deltas.push({ family: t.family, set: s.name, decl: s.decl, add: fresh, del: gone });
    }
    // Deletions first: a port whose MAC or profile changed keeps its key in maps.
    parts.push(...dels.map((l) => `${l}\n`), ...adds.map((l) => `${l}\n`));
  }
  // plumb's tables that are live but not desired (the desired state became empty) go whole
  const wanted = new Set(desired.map((t) => tableKey(t.family)));
  for (const key of NFT_FAMILIES.map(tableKey)) {
    if (wanted.has(key) || !live.has(key)) continue;
    parts.push(`delete table ${key}\n`);
    plan.dropped.push(key);
  }
  plan.script = parts.join('');
  return plan;
}
