// The kernel-object tests that skip on this machine for lack of 802.1Q, run inside a QEMU guest
// whose stock Debian kernel has the 8021q module. They decide their skip by probing the kernel
// (test/helpers/topology.ts vlanUnsupportedReason), so in the guest they run for real; this test
// fails unless every one of them ran there and passed.
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { Guest } from '../../src/qemu/vm.js';
import { cacheDir, repoRoot } from '../../src/qemu/paths.js';
import { withLock } from '../../src/qemu/lock.js';
import { skipReason } from '../helpers/skip.js';
import { QUEUED_GUEST_TEST_TIMEOUT_MS } from '../helpers/guest-queue.js';

/** Committed test files whose VLAN tests skip on a kernel without 802.1Q. */
function vlanTestFiles(): string[] {
  // By hand: PLUMB_QEMU_VLAN_TESTS=a.test.ts,b.test.ts runs those files instead.
  if (process.env.PLUMB_QEMU_VLAN_TESTS) return process.env.PLUMB_QEMU_VLAN_TESTS.split(',');
  const tracked = execFileSync('git', ['ls-files', 'test/kernel', 'test/agent'], { cwd: repoRoot, encoding: 'utf8' }).split('\n').filter((f) => f.endsWith('.test.ts'));
  return tracked.filter((f) => /vlanUnsupportedReason|802\.1Q/.test(readFileSync(path.join(repoRoot, f), 'utf8')));
}

/** Vitest's test-name filter: only the VLAN tests of those files run in the guest. */
const namePattern = 'VLAN|vlan|802\\.1Q';

interface VitestJson {
  numPassedTests: number;
  numFailedTests: number;
  testResults: { name: string; assertionResults: { fullName: string; status: string; failureMessages: string[] }[] }[];
}

const files = vlanTestFiles();
const noFiles = files.length === 0 ? 'no committed test in test/kernel or test/agent uses vlanUnsupportedReason yet; nothing to run in the guest' : undefined;

describe('802.1Q kernel-object tests inside a QEMU guest (stock Debian kernel with 8021q)', () => {
  const run = noFiles ? it.skip : it;
  if (noFiles) skipReason(noFiles);

  run(`run and pass in the guest: ${files.join(', ') || '(none)'}${noFiles ? ` [SKIPPED: ${noFiles}]` : ''}`, async () => {
    await withLock(path.join(cacheDir, 'guests.lock'), async () => {
      const g = await Guest.start({
        name: 'ktests',
        memoryMb: 768,
        script: `cd ${repoRoot}
ip -d link add link lo name vlanprobe type vlan id 5 2>/dev/null && ip link del vlanprobe || true
npx vitest run ${files.join(' ')} -t '${namePattern}' --reporter=default --reporter=json --outputFile="$ctl/vitest.json" || echo "vitest exited $?"
`,
      });
      let report: VitestJson;
      try {
        await g.result(400_000);
        const file = path.join(g.ctlDir, 'vitest.json');
        if (!existsSync(file)) throw new Error(`vitest wrote no report in the guest; console:\n${g.tail(60)}`);
        report = JSON.parse(readFileSync(file, 'utf8')) as VitestJson;
      } finally {
        g.kill();
      }
      const vlanTests = report.testResults.flatMap((f) => f.assertionResults).filter((t) => new RegExp(namePattern).test(t.fullName));
      expect(vlanTests.length, 'no VLAN test ran in the guest').toBeGreaterThan(0);
      for (const t of vlanTests) expect({ test: t.fullName, status: t.status, failures: t.failureMessages }).toMatchObject({ status: 'passed' });
    });
  }, QUEUED_GUEST_TEST_TIMEOUT_MS);
});
