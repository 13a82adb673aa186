// Reads vitest's JSON report and prints every skipped test with its reason, then the plain
// closing line "N passed, N failed, N skipped". Exit 1 when anything failed or nothing ran.
import { readFileSync } from 'node:fs';

const report = JSON.parse(readFileSync(process.argv[2], 'utf8'));
let passed = 0, failed = 0, skipped = 0;
const skips = [];
for (const file of report.testResults ?? []) {
  if (file.status === 'failed' && (file.assertionResults ?? []).length === 0) {
    failed += 1; // a file that failed to load counts as a failure
    console.log(`FAILED TO LOAD: ${file.name}: ${file.message ?? ''}`);
  }
  for (const t of file.assertionResults ?? []) {
    if (t.status === 'passed') passed += 1;
    else if (t.status === 'failed') failed += 1;
    else { skipped += 1; skips.push(`${file.name.replace(process.cwd() + '/', '')}: ${t.fullName}`); }
  }
}
if (skips.length) {
  console.log('\nSkipped tests (each names its reason):');
  for (const s of skips) console.log(`  - ${s}`);
}
console.log(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
