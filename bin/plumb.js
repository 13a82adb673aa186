#!/usr/bin/env node
// Entry point for `npx plumb`: runs the compiled CLI (npm run build produces dist/).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const main = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli', 'main.js');
if (!existsSync(main)) {
  process.stderr.write(`plumb: ${main} is missing; run "npm run build" first\n`);
  process.exit(2);
}
await import(main);
