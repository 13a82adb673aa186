// Boot one guest by hand: `npx tsx scripts/qemu/boot.ts [SCRIPT_FILE]` (default: print the
// kernel, modules and a VLAN link, then exit). Prints the console and the boot time.
import { readFileSync } from 'node:fs';
import { Guest } from '../../src/qemu/vm.js';

const script = process.argv[2]
  ? readFileSync(process.argv[2], 'utf8')
  : 'uname -a\ncat /proc/modules | cut -d" " -f1 | tr "\\n" " "; echo\nip link add link lo name lo.10 type vlan id 10 2>&1 || true\nip -d link show\nnode --version\n';
const t0 = performance.now();
const g = await Guest.start({ name: 'by-hand', script });
const booted = performance.now();
try {
  const r = await g.result(300_000);
  process.stdout.write(r.console);
} catch (err) {
  process.stdout.write(g.console);
  console.error(String(err));
  process.exitCode = 1;
} finally {
  g.kill();
}
console.log(`boot to stage 2: ${((booted - t0) / 1000).toFixed(1)} s; total ${((performance.now() - t0) / 1000).toFixed(1)} s`);
