// A real libvirtd (Debian's, with its QEMU driver) for one "hypervisor host" of a test: inside
// that host's network namespace (so the taps plumb makes there are the ones it opens, and
// migration traffic crosses the namespaces' own links) and inside a mount namespace of its own,
// where /run/libvirt, /var/lib/libvirt, /var/cache/libvirt, /var/log/libvirt and /etc/libvirt
// are directories of this run. Several can run at once, beside a system libvirtd, without
// sharing a socket, a domain or a config. Clients reach it with `uri` (a socket path).
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { LibvirtError } from './errors.js';
import { killPids, pidInFile, pidsInDir } from './pid-files.js';
import { logger } from '../util/log.js';

const execFileP = promisify(execFile);
const log = logger('libvirtd');

const DIRS = { run: '/run/libvirt', lib: '/var/lib/libvirt', cache: '/var/cache/libvirt', log: '/var/log/libvirt', etc: '/etc/libvirt' } as const;

// QEMU runs as root without a security driver or namespaces of its own (the test host is a
// container-like sandbox), logs to files instead of virtlogd (which would need a daemon per
// mount namespace), and libvirt changes no file ownership (the kernel and initramfs are shared).
const QEMU_CONF = `user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
namespaces = [ ]
stdio_handler = "file"
`;
// Only root (the test) reaches the sockets, which live in this run's directory.
const LIBVIRTD_CONF = `unix_sock_group = "root"
unix_sock_rw_perms = "0700"
unix_sock_ro_perms = "0700"
auth_unix_rw = "none"
auth_unix_ro = "none"
`;

export class Libvirtd {
  private constructor(
    readonly netns: string,
    readonly dir: string,
    private readonly child: ChildProcess,
    private readonly output: () => string,
  ) {}

  /** libvirt URI of this daemon (qemu:///system on its own socket). */
  get uri(): string {
    return `qemu:///system?socket=${path.join(this.dir, 'run', 'libvirt-sock')}`;
  }

  static async start(netns: string, dir: string, timeoutMs = 30_000): Promise<Libvirtd> {
    rmSync(dir, { recursive: true, force: true });
    for (const d of Object.keys(DIRS)) mkdirSync(path.join(dir, d), { recursive: true });
    for (const d of ['qemu', 'storage', 'nwfilter', 'secrets']) mkdirSync(path.join(dir, 'etc', d), { recursive: true });
    writeFileSync(path.join(dir, 'etc', 'qemu.conf'), QEMU_CONF);
    writeFileSync(path.join(dir, 'etc', 'libvirtd.conf'), LIBVIRTD_CONF);
    const binds = Object.entries(DIRS)
      .map(([d, target]) => `mount --bind ${path.join(dir, d)} ${target}`)
      .join(' && ');
    const pidFile = path.join(dir, 'libvirtd.pid');
    const child = spawn('ip', ['netns', 'exec', netns, 'unshare', '--mount', '--propagation', 'private', 'sh', '-c', `${binds} && exec libvirtd --pid-file ${pidFile}`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr?.on('data', (b: Buffer) => (out += b.toString()));
    const d = new Libvirtd(netns, dir, child, () => out);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (child.exitCode !== null) throw new LibvirtError(`libvirtd in ${netns} exited with ${child.exitCode}: ${out.trim().split('\n').slice(-5).join('\n')}`);
      if (existsSync(path.join(dir, 'run', 'libvirt-sock')) && (await d.virsh(['version']).then(() => true, () => false))) break;
      if (Date.now() > deadline) {
        d.stop();
        throw new LibvirtError(`libvirtd in ${netns} did not answer on ${d.uri} within ${timeoutMs} ms: ${out.trim().split('\n').slice(-5).join('\n')}`);
      }
      await sleep(100);
    }
    log.info({ netns, pid: child.pid, dir }, 'libvirtd started');
    return d;
  }

  /** Run virsh against this daemon; throws LibvirtError with virsh's stderr on failure. */
  async virsh(args: string[], timeoutMs = 120_000): Promise<string> {
    try {
      const { stdout } = await execFileP('virsh', ['-q', '-c', this.uri, ...args], { encoding: 'utf8', timeout: timeoutMs });
      return stdout;
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new LibvirtError(`virsh ${args.join(' ')} (${this.netns}): ${(e.stderr ?? e.message).trim()}`);
    }
  }

  /** The daemon's own log lines (stderr), for failure messages. */
  tail(lines = 20): string {
    return this.output().trim().split('\n').slice(-lines).join('\n');
  }

  /** Kill libvirtd and every QEMU it started (both live in its namespaces), by pid. Idempotent. */
  stop(): void {
    const isPid = (f: string): boolean => f.endsWith('.pid');
    killPids([pidInFile(path.join(this.dir, 'libvirtd.pid')), this.child.pid, ...pidsInDir(path.join(this.dir, 'run', 'qemu'), isPid)]);
  }
}
