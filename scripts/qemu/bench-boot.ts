// Guest start cost: wall time from `Guest.start` to the test script running (READY), against a
// baseline measured in the same run: the same kernel under the same QEMU flags with a minimal
// initramfs whose /init powers off at once. The ratio is the harness's own overhead (modules,
// virtiofs, overlay, stage 2 on the shared root). `npx tsx scripts/qemu/bench-boot.ts [runs]`
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, copyFileSync, chmodSync } from 'node:fs';
import path from 'node:path';
import { ensureKernel } from '../../src/qemu/kernel.js';
import { ensureInitramfs } from '../../src/qemu/initramfs.js';
import { Guest } from '../../src/qemu/vm.js';
import { busyboxBinary, cacheDir } from '../../src/qemu/paths.js';

const runs = Number(process.argv[2] ?? 3);
const kernel = ensureKernel();
await ensureInitramfs(kernel);

const tree = mkdtempSync(path.join(cacheDir, 'bench-'));
mkdirSync(path.join(tree, 'bin'));
copyFileSync(busyboxBinary, path.join(tree, 'bin', 'busybox'));
writeFileSync(path.join(tree, 'init'), '#!/bin/busybox sh\n/bin/busybox mkdir -p /proc\n/bin/busybox mount -t proc p /proc\necho o > /proc/sysrq-trigger\n');
chmodSync(path.join(tree, 'init'), 0o755);
const list = execFileSync('find', ['.', '-mindepth', '1'], { cwd: tree, encoding: 'utf8' });
const minimal = path.join(tree, 'minimal.cpio');
writeFileSync(minimal, execFileSync('cpio', ['--quiet', '-o', '-H', 'newc', '-R', '0:0'], { cwd: tree, input: list, maxBuffer: 1 << 26 }));

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const base: number[] = [];
const harness: number[] = [];
for (let i = 0; i < runs; i++) {
  let t = performance.now();
  const r = spawnSync('qemu-system-x86_64', ['-accel', 'tcg', '-cpu', 'max', '-smp', '1', '-m', '512', '-nodefaults', '-no-user-config', '-display', 'none', '-serial', 'stdio', '-monitor', 'none', '-no-reboot',
    '-kernel', kernel.vmlinuz, '-initrd', minimal, '-append', 'console=ttyS0 quiet loglevel=3 panic=-1'], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`baseline QEMU exited ${r.status}: ${r.stderr}`);
  base.push(performance.now() - t);
  t = performance.now();
  const g = await Guest.start({ name: 'bench', script: 'true\n' });
  harness.push(performance.now() - t);
  await g.result();
  g.kill();
}
rmSync(tree, { recursive: true, force: true });
const b = median(base);
const h = median(harness);
console.log(`kernel ${kernel.release}, ${runs} runs, medians:`);
console.log(`  baseline (kernel boot + power-off, minimal initramfs): ${(b / 1000).toFixed(2)} s`);
console.log(`  harness guest start to READY:                           ${(h / 1000).toFixed(2)} s`);
console.log(`  ratio harness/baseline: ${(h / b).toFixed(2)}`);
