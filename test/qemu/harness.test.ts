// The harness itself: the cached kernel/initramfs, a guest that boots the stock kernel with the
// modules loaded, and a start failure that names its reason instead of hanging or skipping.
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { statSync } from 'node:fs';
import { Guest } from '../../src/qemu/vm.js';
import { ensureKernel } from '../../src/qemu/kernel.js';
import { ensureInitramfs } from '../../src/qemu/initramfs.js';
import { resolveModules } from '../../src/qemu/modules.js';
import { VmStartError } from '../../src/qemu/errors.js';
import { cacheDir } from '../../src/qemu/paths.js';
import { withLock } from '../../src/qemu/lock.js';
import { QUEUED_GUEST_TEST_TIMEOUT_MS } from '../helpers/guest-queue.js';

describe('QEMU harness', () => {
  it('resolves module dependencies in load order and reuses the cached initramfs', async () => {
    const kernel = ensureKernel();
    const order = resolveModules(kernel.modulesDir).map((m) => m.name);
    for (const [dep, mod] of [['virtio', 'virtio_net'], ['llc', 'stp'], ['stp', 'bridge'], ['garp', '8021q'], ['mrp', '8021q'], ['fuse', 'virtiofs']] as const) {
      expect(order.indexOf(dep), `${dep} before ${mod}`).toBeGreaterThanOrEqual(0);
      expect(order.indexOf(dep), `${dep} before ${mod}`).toBeLessThan(order.indexOf(mod));
    }
    const first = await ensureInitramfs(kernel);
    const mtime = statSync(first).mtimeMs;
    expect(await ensureInitramfs(kernel)).toBe(first);
    expect(statSync(first).mtimeMs).toBe(mtime);
  });

  it('boots the stock Debian cloud kernel with 8021q, runs node from the shared host root, loads other modules on demand', async () => {
    await withLock(path.join(cacheDir, 'guests.lock'), async () => {
      const g = await Guest.start({
        name: 'smoke',
        script: `grep -q "^8021q " /proc/modules && echo PLUMB-RESULT 8021q-loaded
node -e "console.log('PLUMB-RESULT node', process.version)"
ip link add probe0 type dummy && grep -q "^dummy " /proc/modules && echo PLUMB-RESULT dummy-on-demand
nft add table inet probe && grep -q "^nf_tables " /proc/modules && echo PLUMB-RESULT nf_tables-on-demand
`,
      });
      try {
        const r = await g.result(120_000);
        expect(r.console).toContain(`PLUMB-GUEST-READY ${ensureKernel().release}`);
        expect(r.console).toContain('PLUMB-RESULT 8021q-loaded');
        expect(r.console).toContain(`PLUMB-RESULT node ${process.version}`);
        // Modules outside the initramfs load on demand, as on a real Debian host.
        expect(r.console).toContain('PLUMB-RESULT dummy-on-demand');
        expect(r.console).toContain('PLUMB-RESULT nf_tables-on-demand');
      } finally {
        g.kill();
      }
    });
  }, QUEUED_GUEST_TEST_TIMEOUT_MS);

  it('fails with the reason when a guest cannot start (a namespace that does not exist)', async () => {
    const err = await Guest.start({ name: 'nostart', netns: 'pt-absent-ns', script: 'true\n' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VmStartError);
    expect(String((err as Error).message)).toMatch(/exited with \d+ before boot: .*pt-absent-ns/s);
  }, 60_000);
});
