// Debian's cloud kernel, fetched with apt (never installed on this machine): resolve the
// metapackage's current dependency, `apt-get download` both .debs into the cache and unpack the
// image with `dpkg-deb -x`. Cached per version; a new Debian kernel version means a new unpack.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, renameSync } from 'node:fs';
import path from 'node:path';
import { cacheDir } from './paths.js';
import { KernelFetchError } from './errors.js';
import { errorMessage } from '../util/errors.js';

export const kernelMetapackage = 'linux-image-cloud-amd64';

export interface GuestKernel {
  /** e.g. 6.1.0-56-cloud-amd64 */
  release: string;
  vmlinuz: string;
  /** lib/modules/<release> inside the unpacked package */
  modulesDir: string;
}

function run(cmd: string, args: string[], cwd?: string): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new KernelFetchError(`${cmd} ${args.join(' ')} failed: ${stderr.trim() || errorMessage(err)}`, { cause: err });
  }
}

/** The versioned image package the metapackage currently depends on. */
export function resolveImagePackage(): string {
  const out = run('apt-cache', ['depends', kernelMetapackage]);
  const m = /Depends:\s*(linux-image-\S+-cloud-amd64)/.exec(out);
  if (!m?.[1]) throw new KernelFetchError(`apt-cache depends ${kernelMetapackage}: no linux-image-*-cloud-amd64 dependency in:\n${out}`);
  return m[1];
}

/** Make sure the kernel is unpacked in the cache; downloads only when the version changed. */
export function ensureKernel(): GuestKernel {
  const pkg = resolveImagePackage();
  const release = pkg.replace(/^linux-image-/, '');
  const root = path.join(cacheDir, 'kernel', release);
  const vmlinuz = path.join(root, 'boot', `vmlinuz-${release}`);
  const modulesDir = path.join(root, 'lib', 'modules', release);
  if (existsSync(vmlinuz) && existsSync(path.join(modulesDir, 'modules.dep'))) return { release, vmlinuz, modulesDir };

  const debs = path.join(cacheDir, 'debs');
  mkdirSync(debs, { recursive: true });
  if (!readdirSync(debs).some((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'))) {
    run('apt-get', ['download', '-q', pkg], debs);
  }
  const deb = readdirSync(debs).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
  if (!deb) throw new KernelFetchError(`apt-get download ${pkg} left no .deb in ${debs}`);
  // Unpack beside the target and rename, so an interrupted unpack never looks complete.
  const tmp = `${root}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  run('dpkg-deb', ['-x', path.join(debs, deb), tmp]);
  // The package ships no modules.dep/modules.alias (depmod runs on install); generate them so
  // the guest's modprobe (the host's kmod, over virtiofs) can load any module on demand.
  run('depmod', ['-b', tmp, release]);
  rmSync(root, { recursive: true, force: true });
  renameSync(tmp, root);
  if (!existsSync(vmlinuz)) throw new KernelFetchError(`${deb} has no boot/vmlinuz-${release}`);
  return { release, vmlinuz, modulesDir };
}
