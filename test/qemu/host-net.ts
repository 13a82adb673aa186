// Host side of the QEMU scenarios, all inside one throwaway namespace: a bridge and persistent
// taps for the guests' NICs. QEMU is started inside the namespace (`ip netns exec`).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { Netns, ipIn } from '../helpers/netns.js';
import { repoRoot } from '../../src/qemu/paths.js';

export interface HostSide {
  netns: string;
  bridge: string;
  taps: string[];
}

/** A namespace with bridge `bridge` (optionally addressed) and `tapCount` persistent taps on it. */
export function hostBridgeWithTaps(ns: Netns, prefix: string, bridge: string, tapNames: string[], address?: string): HostSide {
  const netns = ns.add(prefix);
  ipIn(netns, 'link', 'add', bridge, 'type', 'bridge');
  if (address) ipIn(netns, 'addr', 'add', address, 'dev', bridge);
  ipIn(netns, 'link', 'set', bridge, 'up');
  for (const tap of tapNames) {
    ipIn(netns, 'tuntap', 'add', 'dev', tap, 'mode', 'tap');
    ipIn(netns, 'link', 'set', tap, 'master', bridge);
    ipIn(netns, 'link', 'set', tap, 'up');
  }
  return { netns, bridge, taps: tapNames };
}

/**
 * Integration point with the agent: true once `plumb agent apply` exists and is built
 * (src/kernel/handle.ts landed and `npm run build` produced dist/). Until then the scenarios
 * build the same kernel objects with iproute2 and say so on the console.
 */
export function agentCliAvailable(): boolean {
  if (!existsSync(path.join(repoRoot, 'dist', 'kernel', 'handle.js'))) return false;
  try {
    execFileSync('node', [path.join(repoRoot, 'bin', 'plumb.js'), 'agent', 'apply', '--help'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** tcpdump on a host-side device, collecting lines until `stop()`; killed by its pid. */
export function capture(netns: string, dev: string, filter: string): { stop: () => Promise<string> } {
  const p = spawn('ip', ['netns', 'exec', netns, 'tcpdump', '-i', dev, '-nn', '-e', '-l', filter], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<void>((resolve) => p.on('exit', () => resolve()));
  return {
    stop: async () => {
      if (p.pid && p.exitCode === null) process.kill(p.pid, 'SIGTERM');
      await exited;
      return out;
    },
  };
}

/** `plumb agent apply --netns NETNS --state FILE` on the host; returns its output, throws on non-zero. */
export function agentApply(netns: string, stateFile: string, extra: string[] = []): string {
  try {
    return execFileSync('node', [path.join(repoRoot, 'bin', 'plumb.js'), 'agent', 'apply', '--netns', netns, '--state', stateFile, ...extra], {
      encoding: 'utf8',
      env: { ...process.env, PLUMB_LOG_LEVEL: 'warn' },
    });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; status?: number };
    throw new Error(`plumb agent apply exited ${e.status}: ${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}
