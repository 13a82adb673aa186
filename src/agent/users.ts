// Resolves tap owners given as user/group names through /etc/passwd and /etc/group (read once
// per pass; no NSS module support, which is what QEMU hosts use in practice).
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
  const users = table('/etc/passwd');
  const groups = table('/etc/group');
  return {
    uid: (o) => (typeof o === 'number' ? o : users.get(o)),
    gid: (g) => (typeof g === 'number' ? g : groups.get(g)),
  };
}
