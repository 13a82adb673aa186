// Parse `nft -s list ruleset` into what the comparison needs: for each of plumb's tables, its
// skeleton (trimmed lines without elements) and the elements of each set/map. Other tables are
// read past and ignored.
import { TABLE_NAME } from './spec.js';

export interface LiveTable {
  skeleton: string[];
  elements: Map<string, Set<string>>;
}

/** Keyed by `<family> plumb`. */
export type LiveTables = Map<string, LiveTable>;

const TABLE_RE = new RegExp(`^table (bridge|inet|arp|ip|ip6|netdev) ${TABLE_NAME} \\{$`);
const SET_RE = /^(?:set|map) (\S+) \{$/;

export function parseListing(text: string): LiveTables {
  const tables: LiveTables = new Map();
  const lines = text.split('\n');
  let current: LiveTable | undefined;
  let setName: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] ?? '';
    if (current === undefined) {
      const m = TABLE_RE.exec(raw);
      if (m) {
        current = { skeleton: [raw.trim()], elements: new Map() };
        tables.set(`${m[1]} ${TABLE_NAME}`, current);
      }
      continue;
    }
    const line = raw.trim();
    if (raw === '}') {
      current.skeleton.push('}');
      current = undefined;
      setName = undefined;
      continue;
    }
    if (line === '') continue;
    const sm = SET_RE.exec(line);
    if (sm) setName = sm[1];
    else if (line.startsWith('chain ')) setName = undefined;
    if (line.startsWith('elements = {') && setName !== undefined) {
      // Elements may span lines; they contain no braces, so the block ends at the first '}'.
      let body = line.slice('elements = {'.length);
      while (!body.includes('}') && i + 1 < lines.length) body += ` ${(lines[++i] ?? '').trim()}`;
      body = body.slice(0, body.indexOf('}'));
      const set = new Set(
        body
          .split(',')
          .map((e) => e.trim())
          .filter((e) => e !== ''),
      );
      current.elements.set(setName, set);
      continue;
    }
    current.skeleton.push(line);
  }
  return tables;
}
