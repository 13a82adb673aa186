// A real single-node Ganeti 3.0 cluster (Debian 12's `ganeti`) for one "hypervisor host" of a
// test, the way src/qemu/libvirtd.ts runs libvirtd: inside that host's network namespace (the
// taps Ganeti opens are the ones plumb's agent there adopts, and the node's primary address is
// the host's own) and inside mount and UTS namespaces of its own, where /etc/ganeti,
// /var/lib/ganeti, /run/ganeti, /var/log/ganeti, /srv/ganeti and /etc/hosts are files of this run
// and the hostname is the node's. A "holder" process keeps those namespaces; every gnt-* command
// and every daemon `gnt-cluster init` starts runs inside them (nsenter on the holder).
//
// What a node needs that the package does not make, found by running it here:
// - the hostname must resolve (our /etc/hosts) to an address the node owns (not loopback);
// - `--no-ssh-init`: one node needs no SSH keys, and root's ~/.ssh is left alone;
// - an OS definition even for `--no-install` (five scripts, ganeti_api_version, the two lists);
// - TCG: /dev/kvm exists here but nested KVM hangs, and Ganeti runs /usr/bin/kvm, which Debian's
//   QEMU starts with KVM. `kvm_flag=disabled` alone adds nothing (QEMU 7.2 has no -disable-kvm
//   for Ganeti to find), so the cluster's kvm_extra is `-accel tcg`;
// - a NIC in `routed` mode needs an IP, one in `bridged` mode a bridge named by its link.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { GanetiError } from './errors.js';
import { logger } from '../util/log.js';

const execFileP = promisify(execFile);
const log = logger('ganeti-node');

/** run directory → where it is mounted inside the node's mount namespace */
const DIRS = { etc: '/etc/ganeti', lib: '/var/lib/ganeti', run: '/run/ganeti', log: '/var/log/ganeti', srv: '/srv/ganeti' } as const;

export const NOOP_OS = 'plumb-noop';

export interface GanetiNodeOptions {
  netns: string;
  dir: string;
  /** the node's FQDN (its hostname inside the UTS namespace) */
  hostname: string;
  /** the node's primary address: must already be on `masterNetdev` in `netns` */
  address: string;
  masterNetdev: string;
  /** the cluster's name and master IP (Ganeti adds it to masterNetdev) */
  clusterName: string;
  clusterAddress: string;
  /** /etc/ganeti/kvm-vif-bridge: the NIC script Ganeti's kvm-ifup runs for every NIC */
  nicScript?: string;
}

export class GanetiNode {
  private constructor(
    readonly options: GanetiNodeOptions,
    private readonly holder: ChildProcess,
  ) {}

  get dir(): string {
    return this.options.dir;
  }

  /** Prepare the node's files, enter its namespaces and `gnt-cluster init` a one-node cluster. */
  static async start(o: GanetiNodeOptions, timeoutMs = 120_000): Promise<GanetiNode> {
    if (!existsSync('/usr/sbin/gnt-cluster')) throw new GanetiError("Debian's ganeti package is not installed (/usr/sbin/gnt-cluster is missing): run scripts/setup.sh");
    rmSync(o.dir, { recursive: true, force: true });
    for (const d of Object.keys(DIRS)) mkdirSync(path.join(o.dir, d), { recursive: true });
    // the package's own /etc/ganeti (the lib and share links to this version, kvm-ifup-os)
    cpSync('/etc/ganeti', path.join(o.dir, 'etc'), { recursive: true, verbatimSymlinks: true });
    if (o.nicScript !== undefined) writeExecutable(path.join(o.dir, 'etc', 'kvm-vif-bridge'), o.nicScript);
    const os = path.join(o.dir, 'srv', 'os', NOOP_OS);
    mkdirSync(os, { recursive: true });
    for (const s of ['create', 'import', 'export', 'rename', 'verify']) writeExecutable(path.join(os, s), '#!/bin/sh\nexit 0\n');
    writeFileSync(path.join(os, 'ganeti_api_version'), '20\n');
    writeFileSync(path.join(os, 'parameters.list'), '');
    writeFileSync(path.join(os, 'variants.list'), '');
    const short = o.hostname.split('.')[0] ?? o.hostname;
    writeFileSync(path.join(o.dir, 'hosts'), `127.0.0.1 localhost\n${o.address} ${o.hostname} ${short}\n${o.clusterAddress} ${o.clusterName}\n`);
    // mount points the package leaves to tmpfiles.d at boot (/run/ganeti) or to the admin (/srv/ganeti)
    for (const target of [DIRS.run, DIRS.srv]) mkdirSync(target, { recursive: true });
    const binds = [...Object.entries(DIRS).map(([d, target]) => `mount --bind ${path.join(o.dir, d)} ${target}`), `mount --bind ${path.join(o.dir, 'hosts')} /etc/hosts`].join(' && ');
    const holder = spawn('ip', ['netns', 'exec', o.netns, 'unshare', '--mount', '--uts', '--propagation', 'private', 'sh', '-c', `${binds} && hostname ${o.hostname} && exec sleep infinity`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    holder.stderr?.on('data', (b: Buffer) => (err += b.toString()));
    const node = new GanetiNode(o, holder);
    try {
      // the holder is in place once its namespaces show the node's hostname
      const deadline = Date.now() + 10_000;
      while ((await node.exec(['hostname']).catch(() => '')).trim() !== o.hostname) {
        if (holder.exitCode !== null) throw new GanetiError(`the namespaces of Ganeti node ${o.hostname} could not be made: ${err.trim()}`);
        if (Date.now() > deadline) throw new GanetiError(`the namespaces of Ganeti node ${o.hostname} were not ready within 10 s: ${err.trim()}`);
        await sleep(50);
      }
      await node.exec(['/usr/lib/ganeti/ensure-dirs']);
      await node.gnt(
        ['gnt-cluster', 'init', '--no-ssh-init', '--no-etc-hosts', `--master-netdev=${o.masterNetdev}`, '--enabled-hypervisors=kvm', '--enabled-disk-templates=diskless', '-H', 'kvm:kvm_flag=disabled,kvm_extra=-accel tcg', o.clusterName],
        timeoutMs,
      );
    } catch (e) {
      node.stop();
      throw e;
    }
    log.info({ netns: o.netns, node: o.hostname, dir: o.dir }, 'ganeti cluster initialised');
    return node;
  }

  /** Run a command inside the node's namespaces (network, mount, UTS). */
  async exec(args: string[], timeoutMs = 120_000): Promise<string> {
    const pid = this.holder.pid;
    if (pid === undefined || this.holder.exitCode !== null) throw new GanetiError(`Ganeti node ${this.options.hostname}: its namespaces are gone`);
    const { stdout } = await execFileP('nsenter', ['-t', String(pid), '-m', '-u', '-n', ...args], { encoding: 'utf8', timeout: timeoutMs });
    return stdout;
  }

  /** Run a gnt-* command; throws GanetiError with Ganeti's own words (and the job's) on failure. */
  async gnt(args: string[], timeoutMs = 120_000): Promise<string> {
    try {
      return await this.exec(args, timeoutMs);
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      throw new GanetiError(`${args.join(' ')} (${this.options.hostname}): ${`${e.stdout ?? ''}${e.stderr ?? ''}`.trim() || e.message}`);
    }
  }

  /** The unix socket of an instance's serial console (serial_console=true), seen from outside. */
  serialSocket(instance: string): string {
    return path.join(this.dir, 'run', 'kvm-hypervisor', 'ctrl', `${instance}.serial`);
  }

  /** The last lines of a Ganeti log (node-daemon.log, commands.log, kvm/<instance>.log). */
  logTail(file: string, lines = 20): string {
    try {
      return readFileSync(path.join(this.dir, 'log', file), 'utf8').trim().split('\n').slice(-lines).join('\n');
    } catch {
      return `(no ${file})`;
    }
  }

  /** Kill every Ganeti daemon and instance QEMU of this node, by their pid files, and the holder. Idempotent. */
  stop(): void {
    const pids = new Set<number>();
    const run = path.join(this.dir, 'run');
    for (const f of readdirSafe(run)) if (f.endsWith('.pid')) pids.add(readPid(path.join(run, f)));
    const qemu = path.join(run, 'kvm-hypervisor', 'pid');
    for (const f of readdirSafe(qemu)) pids.add(readPid(path.join(qemu, f)));
    if (this.holder.pid) pids.add(this.holder.pid);
    for (const pid of pids) {
      if (!pid) continue;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
}

function writeExecutable(file: string, content: string): void {
  writeFileSync(file, content);
  chmodSync(file, 0o755);
}

function readPid(file: string): number {
  try {
    return Number(readFileSync(file, 'utf8').trim()) || 0;
  } catch {
    return 0;
  }
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
