// Throwaway Debian 12 hosts for the package tests: a copy of the cached debootstrap root
// (scripts/debian-root.sh), entered with chroot, with /proc mounted for the time of the test
// (debootstrap made /dev's nodes), unmounted, then deleted, by cleanup().
import { execFile, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const repo = new URL('../..', import.meta.url).pathname;
const execFileAsync = promisify(execFile);
export const DEBIAN_ROOT_CACHE = join(repo, '.cache', 'debian-root');

/** What keeps the package tests from running here, or undefined. */
export function debianRootUnavailable(): string | undefined {
  for (const tool of ['debootstrap', 'dpkg-repack', 'chroot', 'dpkg-deb']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} is not installed (scripts/apt-packages.txt installs it)`;
  }
  if (spawnSync('dpkg-query', ['-W', 'nodejs']).status !== 0) return "this machine's Node.js is not the Debian package nodejs, which the throwaway root needs";
  if (process.getuid?.() !== 0) return 'chroot and debootstrap need root';
  return undefined;
}

/**
 * The cached root, built on first use (debootstrap from the Debian mirror: about a minute).
 * Asynchronous, as is every long step here: a worker whose event loop is blocked for a minute
 * misses vitest's RPC deadline and fails the run.
 */
export async function cachedDebianRoot(): Promise<string> {
  const r = await run('bash', [join(repo, 'scripts', 'debian-root.sh'), DEBIAN_ROOT_CACHE], 15 * 60_000);
  return r.trim();
}

/** Builds plumb's three packages at `version` into dir/version (scripts/package.sh, from dist/ as built); their paths. */
export async function buildPackages(dir: string, version: string): Promise<string[]> {
  const started = Date.now();
  const out = await run('bash', [join(repo, 'scripts', 'package.sh'), '--out', join(dir, version), '--version', version, '--no-build'], 300_000);
  process.stderr.write(`[deb] built ${version} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  return out.trim().split('\n');
}

/** Runs a command without blocking the event loop; its stdout, or an error with its output. */
export async function run(cmd: string, args: string[], timeoutMs: number): Promise<string> {
  try {
    return (await execFileAsync(cmd, args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 })).stdout;
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    throw new Error(`${cmd} ${args.join(' ')} failed (${String(e.code)}): ${e.stderr ?? ''}${e.stdout ?? ''}`);
  }
}

export class ThrowawayRoot {
  readonly dir: string;
  readonly root: string;
  private mounts: string[] = [];

  constructor(cached: string) {
    this.dir = mkdtempSync(join(tmpdir(), 'plumb-debroot-'));
    this.root = join(this.dir, 'root');
    must(spawnSync('cp', ['-a', cached, this.root], { encoding: 'utf8' }), 'copy the cached root');
    must(spawnSync('mount', ['-t', 'proc', 'proc', join(this.root, 'proc')], { encoding: 'utf8' }), 'mount /proc');
    this.mounts.push(join(this.root, 'proc'));
    // no service starts inside a chroot, whatever a maintainer script asks (invoke-rc.d's policy)
    writeFileSync(join(this.root, 'usr/sbin/policy-rc.d'), '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  }

  /** Runs a shell command inside the root (as root, or as `user`). */
  sh(command: string, opts: { user?: string; input?: string; timeoutMs?: number } = {}): SpawnSyncReturns<string> {
    const who = opts.user ? [`--userspec=${opts.user}`] : [];
    return spawnSync('chroot', [...who, this.root, '/bin/sh', '-c', command], {
      encoding: 'utf8',
      input: opts.input ?? '',
      timeout: opts.timeoutMs ?? 120_000,
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8', DEBIAN_FRONTEND: 'noninteractive', HOME: '/root' },
    });
  }

  /** Like sh, but throws with the output unless it exits 0; returns stdout. */
  ok(command: string, opts: { user?: string } = {}): string {
    return must(this.sh(command, opts), command).stdout;
  }

  path(p: string): string {
    return join(this.root, p);
  }

  private unmount(): void {
    for (const m of this.mounts) spawnSync('umount', [m]);
    this.mounts = [];
  }

  /**
   * Ready to boot in a guest: /proc unmounted (the guest must not see the host's), and the
   * policy that kept services from starting in the chroot gone, so that maintainer scripts
   * under the guest's systemd start, restart and stop units as on a real host.
   */
  makeBootable(): void {
    this.unmount();
    rmSync(join(this.root, 'usr/sbin/policy-rc.d'), { force: true });
  }

  cleanup(): void {
    this.unmount();
    // never delete through a mount that is still there
    const still = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.split(' ')[4]?.startsWith(this.dir));
    if (still.length > 0) throw new Error(`${this.dir}: still mounted, not deleted:\n${still.join('\n')}`);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function must(r: SpawnSyncReturns<string>, what: string): SpawnSyncReturns<string> {
  if (r.status !== 0) throw new Error(`${what}: exit ${r.status ?? r.signal}\n${r.stdout}${r.stderr}`);
  return r;
}
