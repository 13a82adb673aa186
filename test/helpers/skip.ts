// Loud skips: a test that cannot run here says why, on stderr and in the summary
// (scripts/test-summary.mjs lists every skipped test). Never a silent `it.skip`.
import { it, describe } from 'vitest';

const reported = new Set<string>();

export function skipReason(reason: string | undefined): string | undefined {
  if (reason && !reported.has(reason)) {
    reported.add(reason);
    process.stderr.write(`\n[plumb-test] SKIPPED: ${reason}\n`);
  }
  return reason;
}

/** `it` that is skipped with a printed reason when `reason` is set. */
export function itUnless(reason: string | undefined): typeof it {
  if (!skipReason(reason)) return it;
  const skipped = ((name: string, fn?: unknown, timeout?: number) =>
    it.skip(`${name} [SKIPPED: ${reason}]`, fn as never, timeout)) as unknown as typeof it;
  return skipped;
}

export function describeUnless(reason: string | undefined): typeof describe {
  if (!skipReason(reason)) return describe;
  return ((name: string, fn: () => void) => describe.skip(`${name} [SKIPPED: ${reason}]`, fn)) as unknown as typeof describe;
}
