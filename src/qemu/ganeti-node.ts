// A real Ganeti 3.0 cluster (Debian 12's `ganeti`) over a test's plumb hosts, the way
// src/qemu/libvirtd.ts runs libvirtd: each node inside its host's network namespace (the taps
// Ganeti opens are the ones plumb's agent there adopts, the node's primary address is the host's
// own, migrations cross the hosts' links) and inside mount and UTS namespaces of its own, where
// /etc/ganeti, /var/lib/ganeti, /run/ganeti, /var/log/ganeti, /srv/ganeti, /etc/hosts, /etc/ssh,
// /run/sshd and /root/.ssh are files of this run and the hostname is the node's. A "holder"
// process keeps those namespaces; every gnt-* command, every daemon and each node's sshd runs
// inside them (nsenter on the holder). Nothing of the machine's own Ganeti, SSH or hosts is touched.
//
// What a cluster needs that the package does not make, found by running it here:
// - each hostname must resolve (our /etc/hosts) to an address the node owns (not loopback);
// - `--no-ssh-init`, and for more than one node an sshd on each: `gnt-node add` runs
//   node-daemon-setup over SSH and node verification logs into every node. All nodes share one
//   host key (Ganeti checks it under the cluster's name) and one root key, as Ganeti's own SSH
//   set-up would make them;
// - an OS definition even for `--no-install` (five scripts, ganeti_api_version, the two lists);
// - TCG: /dev/kvm exists here but nested KVM hangs, and Ganeti runs /usr/bin/kvm, which Debian's
//   QEMU starts with KVM. `kvm_flag=disabled` alone adds nothing (QEMU 7.2 has no -disable-kvm
//   for Ganeti to find), so the cluster's kvm_extra is `-accel tcg`;
// - a NIC in `routed` mode needs an IP, one in `bridged` mode a bridge named by its link.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { GanetiError } from './errors.js';
import { killPids, pidsInDir } from './pid-files.js';
import { logger } from '../util/log.js';

const execFileP = promisify(execFile);
const log = logger('ganeti');

/** a node's directory → where it is mounted inside the node's mount namespace */
const NODE_DIRS = { etc: '/etc/ganeti', lib: '/var/lib/ganeti', run: '/run/ganeti', log: '/var/log/ganeti', srv: '/srv/ganeti', sshd: '/run/sshd' } as const;
/** the cluster's shared files → where every node sees them */
const SHARED = { 'ssh-etc/etc/ssh': '/etc/ssh', 'root-ssh': '/root/.ssh', hosts: '/etc/hosts' } as const;

export const NOOP_OS = 'plumb-noop';

const SSHD_CONFIG = `PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
AuthorizedKeysFile /root/.ssh/authorized_keys
PidFile /run/ganeti/plumb-sshd.pid
HostKey /etc/ssh/ssh_host_rsa_key
HostKey /etc/ssh/ssh_host_ecdsa_key
HostKey /etc/ssh/ssh_host_ed25519_key
`;

export interface GanetiNodeSpec {
  /** the node's FQDN (its hostname inside the UTS namespace) */
  hostname: string;
  /** the node's primary address, already on a device of `netns` */
  address: string;
  netns: string;
  /**
   * /etc/ganeti/kvm-vif-bridge: the NIC script Ganeti's kvm-ifup runs for every NIC. Ganeti copies
   * the master's to every node (an ancillary file of its KVM hypervisor): give all nodes the same.
   */
  nicScript?: string;
  /** more files of this node's own /etc/ganeti (name → content), e.g. what its NIC script reads */
  etcFiles?: Record<string, string>;
}

export interface GanetiClusterOptions {
  dir: string;
  /** the cluster's name and master IP (Ganeti adds it to masterNetdev on the first node) */
  clusterName: string;
  clusterAddress: string;
  masterNetdev: string;
  /** the first is the master */
  nodes: GanetiNodeSpec[];
  /** the cluster's KVM parameters beyond TCG (kernel_path, migration_bandwidth, ...) */
  kvmParams?: Record<string, string | number>;
}

/** One node: its namespaces (held by a process) and its files. */
export class GanetiNode {
  constructor(
    readonly spec: GanetiNodeSpec,
    readonly dir: string,
    private readonly holder: ChildProcess,
    private readonly holderErr: () => string,
  ) {}

  /** Run a command inside the node's namespaces (network, mount, UTS). */
  async exec(args: string[], timeoutMs = 120_000): Promise<string> {
    const pid = this.holder.pid;
    if (pid === undefined || this.holder.exitCode !== null) throw new GanetiError(`Ganeti node ${this.spec.hostname}: its namespaces are gone: ${this.holderErr().trim()}`);
    const { stdout } = await execFileP('nsenter', ['-t', String(pid), '-m', '-u', '-n', ...args], { encoding: 'utf8', timeout: timeoutMs });
    return stdout;
  }

  /** Run a gnt-* command here; throws GanetiError with Ganeti's own words on failure. */
  async gnt(args: string[], timeoutMs = 120_000): Promise<string> {
    try {
      return await this.exec(args, timeoutMs);
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      throw new GanetiError(`${args.join(' ')} (${this.spec.hostname}): ${`${e.stdout ?? ''}${e.stderr ?? ''}`.trim() || e.message}`);
    }
  }

  /** The unix socket of an instance's serial console (serial_console=true) on this node, seen from outside. */
  serialSocket(instance: string): string {
    return path.join(this.dir, 'run', 'kvm-hypervisor', 'ctrl', `${instance}.serial`);
  }

  /** The last lines of one of this node's Ganeti logs (node-daemon.log, commands.log, kvm/<instance>.log). */
  logTail(file: string, lines = 20): string {
    try {
      return readFileSync(path.join(this.dir, 'log', file), 'utf8').trim().split('\n').slice(-lines).join('\n');
    } catch {
      return `(no ${file})`;
    }
  }

  /** Kill every daemon, sshd and instance QEMU of this node by their pid files, then the holder. Idempotent. */
  stop(): void {
    const run = path.join(this.dir, 'run');
    killPids([...pidsInDir(run, (f) => f.endsWith('.pid')), ...pidsInDir(path.join(run, 'kvm-hypervisor', 'pid')), this.holder.pid]);
  }
}

export class GanetiCluster {
  private constructor(
    readonly options: GanetiClusterOptions,
    readonly nodes: GanetiNode[],
  ) {}

  get master(): GanetiNode {
    const m = this.nodes[0];
    if (!m) throw new GanetiError('a Ganeti cluster has at least one node');
    return m;
  }

  node(hostname: string): GanetiNode {
    const n = this.nodes.find((x) => x.spec.hostname === hostname);
    if (!n) throw new GanetiError(`no Ganeti node ${hostname} in this cluster`);
    return n;
  }

  /** Run a gnt-* command on the master. */
  gnt(args: string[], timeoutMs = 120_000): Promise<string> {
    return this.master.gnt(args, timeoutMs);
  }

  /** Make every node's namespaces and files, `gnt-cluster init` on the first, `gnt-node add` the others. */
  static async start(o: GanetiClusterOptions): Promise<GanetiCluster> {
    if (!existsSync('/usr/sbin/gnt-cluster')) throw new GanetiError("Debian's ganeti package is not installed (/usr/sbin/gnt-cluster is missing): run scripts/setup.sh");
    if (o.nodes.length === 0) throw new GanetiError('a Ganeti cluster needs at least one node');
    rmSync(o.dir, { recursive: true, force: true });
    await prepareShared(o);
    // mount points the packages leave to tmpfiles.d at boot (/run/ganeti, /run/sshd), to the admin
    // (/srv/ganeti) or to the first login (/root/.ssh): made empty if missing, never written into
    for (const target of [NODE_DIRS.run, NODE_DIRS.srv, NODE_DIRS.sshd, SHARED['root-ssh']]) mkdirSync(target, { recursive: true, mode: 0o700 });
    const cluster = new GanetiCluster(o, []);
    try {
      for (const spec of o.nodes) cluster.nodes.push(await enterNode(o, spec));
      const started = performance.now();
      await cluster.master.gnt(
        ['gnt-cluster', 'init', '--no-ssh-init', '--no-etc-hosts', `--master-netdev=${o.masterNetdev}`, '--enabled-hypervisors=kvm', '--enabled-disk-templates=diskless', '-H', kvmParams(o.kvmParams), o.clusterName],
        180_000,
      );
      for (const n of cluster.nodes.slice(1)) await cluster.master.gnt(['gnt-node', 'add', '--no-ssh-key-check', n.spec.hostname], 180_000);
      log.info({ cluster: o.clusterName, nodes: o.nodes.map((n) => n.hostname), ms: Math.round(performance.now() - started) }, 'ganeti cluster up');
    } catch (e) {
      cluster.stop();
      throw e;
    }
    return cluster;
  }

  stop(): void {
    for (const n of this.nodes) n.stop();
  }
}

function kvmParams(extra: Record<string, string | number> = {}): string {
  return `kvm:${Object.entries({ kvm_flag: 'disabled', kvm_extra: '-accel tcg', ...extra })
    .map(([k, v]) => `${k}=${v}`)
    .join(',')}`;
}

/** The files all nodes share: /etc/hosts, one SSH host key set and one root key pair. */
async function prepareShared(o: GanetiClusterOptions): Promise<void> {
  const hosts = ['127.0.0.1 localhost', ...o.nodes.map((n) => `${n.address} ${n.hostname} ${n.hostname.split('.')[0] ?? n.hostname}`), `${o.clusterAddress} ${o.clusterName}`];
  mkdirSync(o.dir, { recursive: true });
  writeFileSync(path.join(o.dir, 'hosts'), `${hosts.join('\n')}\n`);
  const sshEtc = path.join(o.dir, 'ssh-etc', 'etc', 'ssh');
  mkdirSync(sshEtc, { recursive: true });
  for (const f of ['ssh_config', 'moduli']) if (existsSync(`/etc/ssh/${f}`)) cpSync(`/etc/ssh/${f}`, path.join(sshEtc, f));
  writeFileSync(path.join(sshEtc, 'sshd_config'), SSHD_CONFIG);
  await execFileP('ssh-keygen', ['-q', '-A', '-f', path.join(o.dir, 'ssh-etc')]);
  const rootSsh = path.join(o.dir, 'root-ssh');
  mkdirSync(rootSsh, { mode: 0o700 });
  await execFileP('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `root@${o.clusterName}`, '-f', path.join(rootSsh, 'id_ed25519')]);
  cpSync(path.join(rootSsh, 'id_ed25519.pub'), path.join(rootSsh, 'authorized_keys'));
}

async function enterNode(o: GanetiClusterOptions, spec: GanetiNodeSpec): Promise<GanetiNode> {
  const dir = path.join(o.dir, spec.hostname);
  for (const d of Object.keys(NODE_DIRS)) mkdirSync(path.join(dir, d), { recursive: true });
  // the package's own /etc/ganeti (the lib and share links to this version, kvm-ifup-os)
  cpSync('/etc/ganeti', path.join(dir, 'etc'), { recursive: true, verbatimSymlinks: true });
  if (spec.nicScript !== undefined) writeExecutable(path.join(dir, 'etc', 'kvm-vif-bridge'), spec.nicScript);
  for (const [name, content] of Object.entries(spec.etcFiles ?? {})) writeFileSync(path.join(dir, 'etc', name), content, { mode: 0o600 });
  const os = path.join(dir, 'srv', 'os', NOOP_OS);
  mkdirSync(os, { recursive: true });
  for (const s of ['create', 'import', 'export', 'rename', 'verify']) writeExecutable(path.join(os, s), '#!/bin/sh\nexit 0\n');
  writeFileSync(path.join(os, 'ganeti_api_version'), '20\n');
  writeFileSync(path.join(os, 'parameters.list'), '');
  writeFileSync(path.join(os, 'variants.list'), '');
  const binds = [
    ...Object.entries(NODE_DIRS).map(([d, target]) => `mount --bind ${path.join(dir, d)} ${target}`),
    ...Object.entries(SHARED).map(([d, target]) => `mount --bind ${path.join(o.dir, d)} ${target}`),
  ].join(' && ');
  // sshd only where another node logs in (a one-node cluster needs none)
  const sshd = o.nodes.length > 1 ? ` && /usr/sbin/sshd -o ListenAddress=${spec.address}` : '';
  const holder = spawn(
    'ip',
    ['netns', 'exec', spec.netns, 'unshare', '--mount', '--uts', '--propagation', 'private', 'sh', '-c', `${binds} && hostname ${spec.hostname} && /usr/lib/ganeti/ensure-dirs${sshd} && exec sleep infinity`],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let err = '';
  holder.stderr?.on('data', (b: Buffer) => (err += b.toString()));
  const node = new GanetiNode(spec, dir, holder, () => err);
  // the holder is in place once its namespaces show the node's hostname and ensure-dirs ran
  const deadline = Date.now() + 15_000;
  while (!existsSync(path.join(dir, 'run', 'socket')) || (await node.exec(['hostname']).catch(() => '')).trim() !== spec.hostname || (sshd && !existsSync(path.join(dir, 'run', 'plumb-sshd.pid')))) {
    if (holder.exitCode !== null || Date.now() > deadline) {
      node.stop();
      throw new GanetiError(`the namespaces of Ganeti node ${spec.hostname} could not be made${holder.exitCode === null ? ' within 15 s' : ''}: ${err.trim()}`);
    }
    await sleep(50);
  }
  return node;
}

function writeExecutable(file: string, content: string): void {
  writeFileSync(file, content);
  chmodSync(file, 0o755);
}
