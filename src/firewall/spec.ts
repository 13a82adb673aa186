// A table as data: counters, sets/maps with their elements, chains with their rules. Rendered in
// exactly the text form `nft -s list` prints, so the live table can be compared line by line with
// the desired one (skeleton) and set by set (elements) without remembering anything between
// passes: a restarted agent finds a matching table and writes nothing.

export type NftFamily = 'bridge' | 'inet' | 'arp';

/** The families plumb keeps a table in. */
export const NFT_FAMILIES: readonly NftFamily[] = ['bridge', 'inet', 'arp'];

/** The name of every table plumb owns, one per family. */
export const TABLE_NAME = 'plumb';

export interface SetSpec {
  name: string;
  /** Lines between the braces before `elements`, as nft prints them, e.g. `type ifname . ether_addr`. */
  decl: string[];
  /** Elements in nft's printed form, e.g. `"tapa" . aa:00:01:00:00:01`. */
  elements: string[];
  /** `map` instead of `set` (verdict maps). */
  map?: boolean;
}

export interface ChainSpec {
  name: string;
  /** Base chains: `type filter hook forward priority filter; policy accept;` */
  hook?: string;
  rules: string[];
}

export interface TableSpec {
  family: NftFamily;
  counters: string[];
  sets: SetSpec[];
  chains: ChainSpec[];
}

export function tableKey(family: NftFamily): string {
  return `${family} ${TABLE_NAME}`;
}

/**
 * The table without elements, one trimmed line per entry, in `nft -s list` order: counters,
 * then sets and maps, then chains.
 */
export function skeletonLines(t: TableSpec): string[] {
  const out = [`table ${tableKey(t.family)} {`];
  for (const c of t.counters) out.push(`counter ${c} {`, '}');
  for (const s of t.sets) out.push(`${s.map ? 'map' : 'set'} ${s.name} {`, ...s.decl, '}');
  for (const c of t.chains) {
    out.push(`chain ${c.name} {`);
    if (c.hook) out.push(c.hook);
    out.push(...c.rules, '}');
  }
  out.push('}');
  return out;
}

/** The full definition, elements included, for `nft -f`. */
export function renderTable(t: TableSpec): string {
  const lines = [`table ${tableKey(t.family)} {`];
  for (const c of t.counters) lines.push(`\tcounter ${c} {`, '\t}');
  for (const s of t.sets) {
    lines.push(`\t${s.map ? 'map' : 'set'} ${s.name} {`, ...s.decl.map((d) => `\t\t${d}`));
    if (s.elements.length > 0) lines.push(`\t\telements = { ${s.elements.join(',\n\t\t\t')} }`);
    lines.push('\t}');
  }
  for (const c of t.chains) {
    lines.push(`\tchain ${c.name} {`);
    if (c.hook) lines.push(`\t\t${c.hook}`);
    lines.push(...c.rules.map((r) => `\t\t${r}`), '\t}');
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

/** Atomically replace the table: create-if-missing, delete, define; all inside one batch. */
export function renderReplace(t: TableSpec): string {
  return `table ${tableKey(t.family)}\ndelete table ${tableKey(t.family)}\n${renderTable(t)}`;
}
