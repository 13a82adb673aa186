// Building blocks for agent tests on the real kernel: host namespaces with uplinks, VM
// namespaces, and independent read-back of what the kernel holds (`ip -json`, `bridge -json`).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Netns, ipIn, ipJson, sh } from './netns.js';

export interface IpLink {
  ifname: string;
  ifindex: number;
  mtu: number;
  master?: string;
  flags: string[];
  operstate?: string;
  ifalias?: string;
  address?: string;
  linkinfo?: { info_kind?: string; info_data?: Record<string, unknown>; info_slave_kind?: string };
}

export function links(ns: string): IpLink[] {
  return ipJson<IpLink[]>(ns, '-d', 'link', 'show');
}

export function link(ns: string, name: string): IpLink | undefined {
  return links(ns).find((l) => l.ifname === name);
}

export interface IpRoute {
  dst: string;
  dev?: string;
  gateway?: string;
  protocol?: string;
  scope?: string;
  table?: string;
}

export function routes(ns: string, family: 4 | 6, table: string | number = 'all'): IpRoute[] {
  return ipJson<IpRoute[]>(ns, `-${family}`, 'route', 'show', 'table', String(table));
}

export function rules(ns: string, family: 4 | 6): { priority: number; iif?: string; table: string; protocol?: string }[] {
  return ipJson(ns, `-${family}`, 'rule', 'show');
}

export function neighs(ns: string, proxy = false): { dst: string; dev: string; lladdr?: string; state?: string[] }[] {
  return proxy ? ipJson(ns, 'neigh', 'show', 'proxy') : ipJson(ns, 'neigh', 'show', 'nud', 'permanent');
}

export function fdb(ns: string, dev: string): { mac: string; dst?: string; flags?: string[] }[] {
  const out = sh('bridge', ['-n', ns, '-json', 'fdb', 'show', 'dev', dev]).trim();
  return out ? JSON.parse(out) : [];
}

export function sysctl(ns: string, path: string): string {
  return sh('ip', ['netns', 'exec', ns, 'cat', `/proc/sys/${path}`]).trim();
}

/** A veth pair between two namespaces (or one namespace twice). */
export function vethBetween(nsA: string, nameA: string, nsB: string, nameB: string): void {
  sh('ip', ['-n', nsA, 'link', 'add', nameA, 'type', 'veth', 'peer', 'name', nameB, 'netns', nsB]);
  ipIn(nsA, 'link', 'set', nameA, 'up');
  ipIn(nsB, 'link', 'set', nameB, 'up');
}

/** Configure the VM side of a veth port (the agent creates it down, with the port's MAC). */
export function vmAddress(vm: string, dev: string, cidr: string, gateway?: string): void {
  ipIn(vm, 'link', 'set', dev, 'up');
  ipIn(vm, 'addr', 'add', cidr, 'dev', dev, ...(cidr.includes(':') ? ['nodad'] : []));
  if (gateway) ipIn(vm, 'route', 'add', 'default', 'via', gateway, 'dev', dev);
}

export function ping(ns: string, address: string, count = 2, timeoutS = 2): boolean {
  try {
    sh('ip', ['netns', 'exec', ns, 'ping', '-c', String(count), '-W', String(timeoutS), '-i', '0.2', address]);
    return true;
  } catch {
    return false;
  }
}

/** Probe whether this kernel can create 802.1Q subinterfaces. */
export function vlanUnsupportedReason(netns: Netns): string | undefined {
  const ns = netns.add('pt-vlp');
  try {
    sh('ip', ['-n', ns, 'link', 'add', 'probe0', 'type', 'veth', 'peer', 'name', 'probe1']);
    sh('ip', ['-n', ns, 'link', 'add', 'link', 'probe0', 'name', 'probe0.5', 'type', 'vlan', 'id', '5']);
    return undefined;
  } catch {
    return 'this kernel has no 802.1Q driver (`type vlan` is an unknown device type); PHYSICAL_VLAN is proven on a stock kernel by the QEMU suite (test/qemu)';
  }
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'plumb-test-'));
}

/** Write a document the way configuration tools do: to a temp file, then rename over. */
export function writeAtomically(path: string, doc: unknown): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(doc, null, 2));
  renameSync(tmp, path);
}

const repo = new URL('../..', import.meta.url).pathname;

/** Spawn the plumb CLI from source (tsx), so tests need no build step. */
export function spawnPlumb(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, PLUMB_LOG_LEVEL: 'debug', ...env };
  delete childEnv.VITEST; // the logger is silent under vitest; the child must log
  return spawn(process.execPath, ['--import', 'tsx', join(repo, 'src/cli/main.ts'), ...args], {
    cwd: repo,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export async function runPlumb(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawnPlumb(args, env);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? -1)));
  return { code, stdout, stderr };
}

/** Collects pino JSON log lines from a child process's stderr (where plumb logs). */
export class LogTail {
  readonly lines: Record<string, unknown>[] = [];
  private buf = '';
  constructor(child: ChildProcess) {
    child.stderr?.on('data', (d: Buffer) => {
      this.buf += d.toString();
      let i: number;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        try {
          this.lines.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          /* not a log line */
        }
      }
    });
  }
  passes(): Record<string, unknown>[] {
    return this.lines.filter((l) => l.msg === 'reconcile pass');
  }
  async waitFor(pred: (l: Record<string, unknown>) => boolean, timeoutMs = 10_000): Promise<Record<string, unknown>> {
    const start = Date.now();
    for (;;) {
      const hit = this.lines.find(pred);
      if (hit) return hit;
      if (Date.now() - start > timeoutMs) throw new Error(`log line not seen within ${timeoutMs} ms; last lines: ${JSON.stringify(this.lines.slice(-5))}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

export async function waitUntil(pred: () => boolean, timeoutMs: number, stepMs = 20): Promise<number> {
  const start = performance.now();
  for (;;) {
    if (pred()) return performance.now() - start;
    if (performance.now() - start > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
