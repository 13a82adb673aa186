// Throwaway network namespaces for tests: unique names, deleted by id in afterAll/afterEach.
// Anything a test creates lives inside these namespaces, so nothing leaks onto the machine.
import { execFileSync, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { signalPid } from '../../src/util/pid.js';

const execFileP = promisify(execFile);

export function uniqueName(prefix: string): string {
  // netns names show up in /run/netns; keep them short and recognisable for cleanup.
  return `${prefix}-${process.pid.toString(36)}${randomBytes(2).toString('hex')}`;
}

export function sh(cmd: string, args: string[], opts: { input?: string } = {}): string {
  return execFileSync(cmd, args, { encoding: 'utf8', input: opts.input, stdio: ['pipe', 'pipe', 'pipe'] });
}

export async function shAsync(cmd: string, args: string[]): Promise<string> {
  const { stdout } = await execFileP(cmd, args, { encoding: 'utf8' });
  return stdout;
}

/** Run `ip ARGS` inside namespace `ns`, returning stdout. */
export function ipIn(ns: string, ...args: string[]): string {
  return sh('ip', ['-n', ns, ...args]);
}

/** `ip -json ...` inside `ns`, parsed. */
export function ipJson<T = unknown>(ns: string, ...args: string[]): T {
  const out = sh('ip', ['-n', ns, '-json', ...args]).trim();
  return (out ? JSON.parse(out) : []) as T;
}

export function execIn(ns: string, cmd: string, args: string[]): string {
  return sh('ip', ['netns', 'exec', ns, cmd, ...args]);
}

export class Netns {
  readonly created: string[] = [];

  /** Create a namespace with lo up. */
  add(prefix: string): string {
    const name = uniqueName(prefix);
    sh('ip', ['netns', 'add', name]);
    this.created.push(name);
    sh('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    return name;
  }

  /** Delete every namespace this instance created (kills processes left inside them first). */
  cleanup(): void {
    for (const ns of this.created.splice(0)) {
      try {
        const pids = sh('ip', ['netns', 'pids', ns]).split(/\s+/).filter(Boolean);
        for (const pid of pids) signalPid(pid, 'SIGKILL');
      } catch {
        /* namespace already gone */
      }
      try {
        sh('ip', ['netns', 'del', ns]);
      } catch {
        /* already gone */
      }
    }
  }
}

/** True when running as root with the ability to create namespaces. */
export function canUseNetns(): boolean {
  return process.getuid?.() === 0;
}
