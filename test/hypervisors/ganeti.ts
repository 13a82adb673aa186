// Ganeti on a HypervisorLab: one Ganeti node per plumb host (same network namespace, the host's
// underlay address as the node's primary address), each with the shipped kvm-vif-bridge running
// this checkout's `plumb hook ganeti-ifup` with a hook.yaml naming that host. Instances boot
// Debian's cloud kernel and the standalone initramfs under TCG, NICs in routed mode.
import { createConnection, type Socket } from 'node:net';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GanetiCluster, NOOP_OS } from '../../src/qemu/ganeti-node.js';
import type { GuestKernel } from '../../src/qemu/kernel.js';
import type { HypervisorLab } from './hosts.js';

const repo = new URL('../..', import.meta.url).pathname;
export const CLUSTER = 'cluster.plumb.test';
export const ganetiName = (host: string): string => `${host}.plumb.test`;

export async function ganetiOnLab(lab: HypervisorLab, kvmParams: Record<string, string | number> = {}): Promise<GanetiCluster> {
  writeFileSync(join(lab.dir, 'nova.password'), 'pw-n\n');
  // The lab's management network is this machine's loopback, where the controller listens (as the
  // agents reach NATS there): the CLI talks to it from the test's own network namespace.
  const cli = join(lab.dir, 'plumb');
  writeFileSync(cli, `#!/bin/sh\ncd ${repo} && exec nsenter --net=/proc/${process.pid}/ns/net ${process.execPath} --import tsx ${join(repo, 'src/cli/main.ts')} "$@"\n`);
  chmodSync(cli, 0o755);
  const shipped = readFileSync(join(repo, 'config/ganeti-kvm-vif-bridge'), 'utf8');
  if (!shipped.includes('exec /usr/bin/plumb hook ganeti-ifup --config /etc/plumb/hook.yaml')) throw new Error('config/ganeti-kvm-vif-bridge no longer runs the hook as this test expects');
  // Ganeti copies the master's kvm-vif-bridge to every node, so it must be the same everywhere:
  // the shipped script, its two paths pointed at this checkout's CLI and at a hook.yaml that each
  // node has in its own /etc/ganeti (where an operator has /etc/plumb/hook.yaml)
  const nicScript = shipped.replace('/usr/bin/plumb', cli).replace('/etc/plumb/hook.yaml', '/etc/ganeti/plumb-hook.yaml');
  const nodes = lab.hosts.map((h) => ({
    hostname: ganetiName(h.name),
    address: h.underlay,
    netns: h.netns,
    nicScript,
    etcFiles: { 'plumb-hook.yaml': `controller:\n  url: ${lab.ctl.url}\n  user: nova\n  passwordFile: ${join(lab.dir, 'nova.password')}\nhost: ${h.name}\ntimeoutSeconds: 30\n` },
  }));
  return GanetiCluster.start({ dir: join(lab.dir, 'ganeti'), clusterName: CLUSTER, clusterAddress: '10.99.0.100', masterNetdev: 'ul0', nodes, kvmParams });
}

export interface InstanceNic {
  mac: string;
  ip: string;
}

/** `gnt-instance add` of a diskless TCG instance with routed NICs (docs/hypervisors.md), not started. */
export function instanceAdd(name: string, node: string, kernel: GuestKernel, initrd: string, nics: InstanceNic[], cmdline = '', hvExtra = ''): string[] {
  const hv = `kvm:kernel_path=${kernel.vmlinuz},initrd_path=${initrd},kernel_args=net.ifnames=0 quiet loglevel=3 panic=-1 plumb_name=${name.split('.')[0] ?? name}${cmdline ? ` ${cmdline}` : ''},vnc_bind_address=,cpu_type=qemu64${hvExtra ? `,${hvExtra}` : ''}`;
  return [
    'gnt-instance', 'add', '-n', node, '-t', 'diskless', '-o', NOOP_OS, '--no-install', '--no-start', '--no-name-check', '--no-ip-check', '-B', 'memory=192M', '-H', hv,
    ...nics.flatMap((n, i) => ['--net', `${i}:mac=${n.mac},mode=routed,link=plumb,ip=${n.ip}`]),
    name,
  ];
}

/** Reads an instance's serial console (Ganeti's unix socket) from the moment it is connected. */
export class SerialConsole {
  text = '';
  private readonly sock: Socket;
  constructor(path: string) {
    this.sock = createConnection(path);
    this.sock.on('data', (b: Buffer) => (this.text += b.toString()));
    this.sock.on('error', (err) => (this.text += `\n[serial console: ${err.message}]\n`));
  }
  close(): void {
    this.sock.destroy();
  }
}
