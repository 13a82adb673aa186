// One QEMU guest: Debian's cloud kernel + the harness initramfs, the host's root filesystem
// shared read-only over virtiofs (so the guest runs the host's node, ip, nft and this checkout
// without copying anything), a shell script to run, and optional NICs on existing taps. Or,
// with `root` and `systemd`, a Debian root of its own booted with its systemd as PID 1.
// The serial console is the result channel: the guest prints, the host reads QEMU's stdout.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ensureKernel } from './kernel.js';
import { ensureInitramfs } from './initramfs.js';
import { guestStage2, qemuBinary, runDir, virtiofsd } from './paths.js';
import { GuestScriptError, GuestTimeoutError, VmStartError } from './errors.js';
import { prepareSystemdRoot } from './systemd-root.js';
import { logger } from '../util/log.js';

const log = logger('qemu');

export interface GuestNic {
  /** An existing tap device (in `netns` when given), e.g. created by the agent for a port. */
  tap: string;
  mac: string;
}

export interface GuestOptions {
  /** Short name: the guest's hostname and part of its run directory. */
  name: string;
  /** Shell script the guest runs (with `sh -e`) after boot; cwd /tmp; the host root is `/`. */
  script: string;
  /** Run QEMU inside this network namespace (where its taps live). */
  netns?: string;
  nics?: GuestNic[];
  memoryMb?: number;
  /** A directory to boot as the guest's root instead of the host's own (under the same tmpfs overlay). */
  root?: string;
  /** Boot `root`'s own systemd as PID 1; the script then runs as a oneshot unit after multi-user.target. */
  systemd?: boolean;
  /** How long the boot may take until the script starts (default 60 s; systemd under TCG takes longer). */
  bootTimeoutMs?: number;
}

export interface GuestResult {
  exitCode: number;
  console: string;
}

/** Where the guest sees its per-run directory (`Guest.ctlDir` on the host), uncached and writable. */
export const guestCtlDir = '/mnt/ctl';

async function startVirtiofsd(sock: string, source: string, cache: 'always' | 'none'): Promise<ChildProcess> {
  const fsd = spawn(virtiofsd, [`--socket-path=${sock}`, '-o', `source=${source}`, '-o', `cache=${cache}`, '-o', 'sandbox=chroot', '-o', 'log_level=err'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  fsd.stderr?.on('data', (b: Buffer) => (err += b.toString()));
  for (let i = 0; i < 100 && !existsSync(sock) && fsd.exitCode === null; i++) await sleep(50);
  if (!existsSync(sock)) {
    fsd.kill('SIGKILL');
    throw new VmStartError(`virtiofsd (${source}) did not create ${sock}: ${err.trim() || 'no output'}`);
  }
  return fsd;
}

// Shell helpers every guest script gets. `barrier NAME` waits for the host's `Guest.release`
// (see `barrier()` below), so guests on both ends of a link can line up their steps.
const guestPrelude = `ctl=${guestCtlDir}
barrier() {
  : > "$ctl/$1.reached"; n=0
  while [ ! -e "$ctl/$1.go" ]; do sleep 0.1; n=$((n+1)); [ $n -lt 1800 ] || { echo "barrier $1: host never released it"; return 1; }; done
}
`;

/** Wait until every guest reached barrier `name`, then release them all. */
export async function barrier(guests: Guest[], name: string, timeoutMs = 120_000): Promise<void> {
  await Promise.all(guests.map((g) => g.reached(name, timeoutMs)));
  for (const g of guests) g.release(name);
}

export class Guest {
  private output = '';
  private exited: Promise<number>;
  private listeners = new Set<() => void>();

  private constructor(
    readonly name: string,
    readonly dir: string,
    private readonly qemu: ChildProcess,
    private readonly daemons: ChildProcess[],
  ) {
    const onData = (b: Buffer): void => {
      this.output += b.toString('utf8');
      for (const l of this.listeners) l();
    };
    qemu.stdout?.on('data', onData);
    qemu.stderr?.on('data', onData);
    this.exited = new Promise((resolve) => qemu.on('exit', (code, sig) => { resolve(code ?? (sig ? 128 : 1)); for (const l of this.listeners) l(); }));
  }

  /** Boot a guest. Throws VmStartError with QEMU's own words if it cannot start. */
  static async start(opts: GuestOptions): Promise<Guest> {
    const kernel = ensureKernel();
    const initrd = await ensureInitramfs(kernel);
    if (opts.systemd) {
      if (!opts.root) throw new VmStartError(`guest ${opts.name}: systemd needs a root directory to boot (GuestOptions.root)`);
      prepareSystemdRoot(opts.root, kernel);
    }
    const dir = path.join(runDir, `${opts.name}-${randomBytes(3).toString('hex')}`);
    const ctl = path.join(dir, 'ctl');
    mkdirSync(ctl, { recursive: true });
    writeFileSync(path.join(ctl, 'guest.sh'), guestPrelude + opts.script);
    const mem = opts.memoryMb ?? 512;
    // The host root is cached (fast exec of node/ip over FUSE); the ctl share is not (live files).
    const rootSock = path.join(dir, 'root.sock');
    const ctlSock = path.join(dir, 'ctl.sock');
    const daemons: ChildProcess[] = [];
    try {
      daemons.push(await startVirtiofsd(rootSock, opts.root ?? '/', 'always'));
      daemons.push(await startVirtiofsd(ctlSock, ctl, 'none'));
    } catch (err) {
      for (const d of daemons) d.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }

    const append = [
      'console=ttyS0', 'quiet', 'loglevel=3', 'panic=-1', 'net.ifnames=0',
      `plumb_stage2=${guestStage2}`, `plumb_name=${opts.name}`, `plumb_modules=${kernel.modulesDir}`,
      ...(opts.systemd ? ['plumb_init=/lib/systemd/systemd'] : []),
    ].join(' ');
    const args = [
      '-accel', 'tcg', '-cpu', 'max', '-smp', '1', '-m', `${mem}`,
      '-nodefaults', '-no-user-config', '-display', 'none', '-serial', 'stdio', '-monitor', 'none', '-no-reboot',
      '-kernel', kernel.vmlinuz, '-initrd', initrd, '-append', append,
      '-object', `memory-backend-memfd,id=mem,size=${mem}M,share=on`, '-numa', 'node,memdev=mem',
      '-chardev', `socket,id=vroot,path=${rootSock}`, '-device', 'vhost-user-fs-pci,chardev=vroot,tag=hostroot',
      '-chardev', `socket,id=vctl,path=${ctlSock}`, '-device', 'vhost-user-fs-pci,chardev=vctl,tag=ctl',
    ];
    (opts.nics ?? []).forEach((nic, i) => {
      args.push('-netdev', `tap,id=n${i},ifname=${nic.tap},script=no,downscript=no`, '-device', `virtio-net-pci,netdev=n${i},mac=${nic.mac}`);
    });
    const [cmd, cmdArgs] = opts.netns ? ['ip', ['netns', 'exec', opts.netns, qemuBinary, ...args]] : [qemuBinary, args];
    const qemu = spawn(cmd, cmdArgs as string[], { stdio: ['ignore', 'pipe', 'pipe'] });
    const guest = new Guest(opts.name, dir, qemu, daemons);
    live.add(guest);
    log.info({ name: opts.name, qemuPid: qemu.pid, virtiofsdPids: daemons.map((d) => d.pid) }, 'guest started');
    // QEMU fails fast (bad tap, no memory); surface that as a start error, not a timeout.
    const early = await Promise.race([guest.exited.then((c) => c), guest.waitFor(/PLUMB-GUEST-READY/, opts.bootTimeoutMs ?? 60_000).then(() => null)]).catch((e: unknown) => e);
    if (typeof early === 'number') {
      guest.kill();
      throw new VmStartError(`QEMU for guest ${opts.name} exited with ${early} before boot: ${guest.tail()}`);
    }
    if (early instanceof Error) {
      guest.kill();
      throw early;
    }
    return guest;
  }

  /** The per-run directory the guest sees as /mnt/ctl. */
  get ctlDir(): string {
    return path.join(this.dir, 'ctl');
  }

  get console(): string {
    return this.output;
  }

  tail(lines = 40): string {
    return this.output.split('\n').slice(-lines).join('\n');
  }

  /** Resolve with the first match of `re` on the console (searching everything printed so far). */
  waitFor(re: RegExp, timeoutMs = 60_000): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const m = re.exec(this.output);
        if (m) {
          done();
          resolve(m);
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        done();
        reject(new GuestTimeoutError(this.name, String(re), this.tail()));
      }, timeoutMs);
      const listener = (): void => {
        if (!check() && this.qemu.exitCode !== null) {
          done();
          reject(new GuestTimeoutError(this.name, `${String(re)} (QEMU exited)`, this.tail()));
        }
      };
      const done = (): void => {
        clearTimeout(timer);
        this.listeners.delete(listener);
      };
      this.listeners.add(listener);
      check();
    });
  }

  /** Resolves when the guest script ran `barrier NAME`; rejects if the guest ends first. */
  async reached(name: string, timeoutMs = 120_000): Promise<void> {
    const file = path.join(this.ctlDir, `${name}.reached`);
    const deadline = Date.now() + timeoutMs;
    while (!existsSync(file)) {
      if (/PLUMB-GUEST-(EXIT|FATAL)/.test(this.output) || this.qemu.exitCode !== null) {
        throw new GuestScriptError(this.name, Number(/PLUMB-GUEST-EXIT (\d+)/.exec(this.output)?.[1] ?? 255), `ended before barrier ${name}:\n${this.tail(60)}`);
      }
      if (Date.now() > deadline) throw new GuestTimeoutError(this.name, `barrier ${name}`, this.tail());
      await sleep(100);
    }
  }

  release(name: string): void {
    writeFileSync(path.join(this.ctlDir, `${name}.go`), '');
  }

  /** Wait for the guest script to finish; throws GuestScriptError when it exited non-zero. */
  async result(timeoutMs = 120_000): Promise<GuestResult> {
    const m = await this.waitFor(/PLUMB-GUEST-(?:EXIT (\d+)|FATAL (.*))/, timeoutMs);
    await Promise.race([this.exited, sleep(5_000)]);
    this.stop();
    const exitCode = m[1] !== undefined ? Number(m[1]) : 255;
    if (exitCode !== 0) throw new GuestScriptError(this.name, exitCode, this.tail(60));
    return { exitCode, console: this.output };
  }

  /** Kill QEMU and virtiofsd by pid (the run directory stays for reading results). */
  stop(): void {
    for (const p of [this.qemu, ...this.daemons]) {
      if (p.exitCode === null && p.signalCode === null && p.pid) {
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
    }
  }

  /** Kill QEMU and virtiofsd by pid and remove the run directory. Idempotent. */
  kill(): void {
    this.stop();
    live.delete(this);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const live = new Set<Guest>();
// A test that throws must not leave QEMU running: kill whatever this process started.
process.once('exit', () => {
  for (const g of live) g.kill();
});
