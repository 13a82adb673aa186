// Lab VMs: a network namespace per device. The controller's lab binding places each port's
// veth peer directly in it (eth<n>); a small supervisor runs a real DHCP client (busybox
// udhcpc) on every NIC, including NICs added later by `plumb network connect`.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { netnsExists } from './topology.js';
import { PlumbError } from '../util/errors.js';
import { LAB_DIR, vmNetns } from './layout.js';
import { REPO } from './processes.js';

export function createVmNamespace(device: string): string {
  const ns = vmNetns(device);
  if (!netnsExists(ns)) {
    execFileSync('ip', ['netns', 'add', ns]);
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  }
  return ns;
}

function vmNics(ns: string): string[] {
  const out = execFileSync('ip', ['-n', ns, '-json', 'link', 'show'], { encoding: 'utf8' });
  return (JSON.parse(out) as { ifname: string }[]).map((l) => l.ifname).filter((n) => /^eth\d+$/.test(n));
}

/** `plumb lab vm-dhcp D`: runs until the VM namespace disappears. */
export async function superviseVmDhcp(device: string): Promise<void> {
  const ns = vmNetns(device);
  const clients = new Map<string, ChildProcess>();
  const script = join(REPO, 'scripts', 'lab', 'udhcpc.sh');
  while (netnsExists(ns)) {
    let nics: string[] = [];
    try {
      nics = vmNics(ns);
    } catch {
      break;
    }
    for (const nic of nics) {
      const c = clients.get(nic);
      if (c && c.exitCode === null) continue;
      execFileSync('ip', ['-n', ns, 'link', 'set', nic, 'up']);
      // -f foreground, keep trying (-t/-T/-A) and renew for the life of the VM
      const child = spawn('ip', ['netns', 'exec', ns, 'busybox', 'udhcpc', '-f', '-i', nic, '-s', script, '-t', '5', '-T', '1', '-A', '2', '-x', `hostname:${device}`], {
        stdio: 'inherit',
        env: { ...process.env, VM_NAME: device },
      });
      clients.set(nic, child);
    }
    for (const [nic, c] of clients) if (!nics.includes(nic)) (c.kill(), clients.delete(nic));
    await new Promise((r) => setTimeout(r, 500));
  }
  for (const c of clients.values()) c.kill();
}

/** A lab VM's NIC did not get its address by DHCP in time. */
export class VmDhcpTimeoutError extends PlumbError {
  constructor(
    readonly device: string,
    readonly missing: readonly string[],
    timeoutMs: number,
  ) {
    super(`VM ${device}: no DHCP lease for ${missing.join(', ')} after ${timeoutMs / 1000} s (see ${join(LAB_DIR, 'logs', `vm-dhcp-${device}.log`)})`);
  }
}

/** Wait until the VM's NICs hold every one of `addresses` (IPv4, put there by its DHCP client). */
export async function waitVmAddresses(device: string, addresses: readonly string[], timeoutMs = 30_000): Promise<void> {
  const ns = vmNetns(device);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const out = execFileSync('ip', ['-n', ns, '-4', '-o', 'addr', 'show'], { encoding: 'utf8' });
    const have = new Set([...out.matchAll(/inet (\d+\.\d+\.\d+\.\d+)\//g)].map((m) => m[1]));
    const missing = addresses.filter((a) => !have.has(a));
    if (missing.length === 0) return;
    if (Date.now() > deadline) throw new VmDhcpTimeoutError(device, missing, timeoutMs);
    await new Promise((r) => setTimeout(r, 50));
  }
}
