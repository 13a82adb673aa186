// Resolves tap owners given as user/group names through /etc/passwd and /etc/group (no NSS
// module support, which is what QEMU hosts use in practice). A resolver is made per pass; the
// files are read only when a name is looked up (numeric owners, the common case, read nothing).
import { readFileSync } from 'node:fs';
import type { IdResolver } from './desired.js';

function table(path: string): Map<string, number> {
  const m = new Map<string, number>();
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return m;
  }
  for (const line of text.split('\n')) {
    const [name, , id] = line.split(':');
    if (name && id !== undefined && /^\d+$/.test(id)) m.set(name, Number(id));
  }
  return m;
}

export function systemIdResolver(): IdResolver {
  let users: Map<string, number> | undefined;
  let groups: Map<string, number> | undefined;
  return {
    uid: (o) => (typeof o === 'number' ? o : (users ??= table('/etc/passwd')).get(o)),
    gid: (g) => (typeof g === 'number' ? g : (groups ??= table('/etc/group')).get(g)),
  };
}
