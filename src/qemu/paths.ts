// Where the harness keeps what it downloads and builds: all under the repository's ignored
// .cache/qemu, so nothing generated is ever committed and a rebuild is `rm -rf .cache/qemu`.
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** Repository root (this file is src/qemu/paths.ts, or dist/qemu/paths.js after a build). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export const cacheDir = process.env.PLUMB_QEMU_CACHE ?? path.join(repoRoot, '.cache', 'qemu');

/** Per-run scratch directories (scripts for guests, control files); visible to guests over virtiofs. */
export const runDir = path.join(cacheDir, 'run');

/** The stage-2 init the guest runs from the shared host root (committed, in scripts/qemu). */
export const guestStage2 = path.join(repoRoot, 'scripts', 'qemu', 'guest-stage2.sh');

export const virtiofsd = '/usr/lib/qemu/virtiofsd';
export const qemuBinary = 'qemu-system-x86_64';
export const busyboxBinary = '/bin/busybox';
