// plumb's version: the one in the package.json beside dist/ (scripts/package.sh writes the Debian
// package's version there, so `plumb --version` names the installed package).
import { readFileSync } from 'node:fs';

function readVersion(): string {
  const pkg: unknown = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  const v = typeof pkg === 'object' && pkg !== null && 'version' in pkg ? pkg.version : undefined;
  return typeof v === 'string' ? v : 'unknown';
}

export const PLUMB_VERSION = readVersion();
