// The harness's initramfs: busybox-static, the kernel modules the guests need (decompressed if
// the package ships them compressed) and scripts/qemu/initramfs-init.sh as /init, packed with
// `cpio -H newc`. Cached under a hash of every input, so it is rebuilt only when one changes.
// The standalone variant (scripts/qemu/standalone-init.sh, NIC modules only) boots a guest that
// needs nothing from the host, as a libvirt domain that live-migrates must.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { busyboxBinary, cacheDir, repoRoot } from './paths.js';
import { InitramfsBuildError } from './errors.js';
import { readModule, resolveModules } from './modules.js';
import type { GuestKernel } from './kernel.js';
import { withLock } from './lock.js';

export type InitramfsVariant = 'harness' | 'standalone';

const variants: Record<InitramfsVariant, { init: string; modules: string[] | undefined }> = {
  harness: { init: path.join(repoRoot, 'scripts', 'qemu', 'initramfs-init.sh'), modules: undefined },
  standalone: { init: path.join(repoRoot, 'scripts', 'qemu', 'standalone-init.sh'), modules: ['virtio_pci', 'virtio_net'] },
};

function inputsHash(kernel: GuestKernel, initScript: string, moduleFiles: string[]): string {
  const h = createHash('sha256');
  h.update(kernel.release);
  h.update(readFileSync(initScript));
  const bb = statSync(busyboxBinary);
  h.update(`${bb.size}:${bb.mtimeMs}`);
  for (const f of moduleFiles) h.update(`${path.basename(f)}:${statSync(f).size}`);
  return h.digest('hex').slice(0, 16);
}

/** Path of an initramfs for `kernel`, building it first if no cached one matches the inputs. */
export async function ensureInitramfs(kernel: GuestKernel, variant: InitramfsVariant = 'harness'): Promise<string> {
  if (!existsSync(busyboxBinary)) throw new InitramfsBuildError(`${busyboxBinary} missing: install busybox-static`);
  const { init: initScript, modules: wanted } = variants[variant];
  const modules = resolveModules(kernel.modulesDir, wanted);
  const image = path.join(cacheDir, `initramfs-${variant === 'harness' ? '' : `${variant}-`}${inputsHash(kernel, initScript, modules.map((m) => m.file))}.cpio`);
  if (existsSync(image)) return image;
  return withLock(path.join(cacheDir, 'build.lock'), () => {
    if (existsSync(image)) return image;
    const tree = `${image}.tree`;
    rmSync(tree, { recursive: true, force: true });
    for (const d of ['bin', 'modules', 'proc', 'sys', 'dev']) mkdirSync(path.join(tree, d), { recursive: true });
    copyFileSync(busyboxBinary, path.join(tree, 'bin', 'busybox'));
    chmodSync(path.join(tree, 'bin', 'busybox'), 0o755);
    copyFileSync(initScript, path.join(tree, 'init'));
    chmodSync(path.join(tree, 'init'), 0o755);
    for (const m of modules) writeFileSync(path.join(tree, 'modules', `${m.name}.ko`), readModule(m.file));
    writeFileSync(path.join(tree, 'modules.order'), modules.map((m) => m.name).join('\n') + '\n');
    try {
      const list = execFileSync('find', ['.', '-mindepth', '1'], { cwd: tree, encoding: 'utf8' });
      const cpio = execFileSync('cpio', ['--quiet', '-o', '-H', 'newc', '-R', '0:0'], { cwd: tree, input: list, maxBuffer: 1 << 28 });
      writeFileSync(`${image}.tmp`, cpio);
      renameSync(`${image}.tmp`, image);
    } catch (err) {
      throw new InitramfsBuildError(`packing ${tree} with cpio failed (is the cpio package installed?)`, { cause: err });
    } finally {
      rmSync(tree, { recursive: true, force: true });
    }
    return image;
  });
}
