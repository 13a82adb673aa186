// Prepares a Debian root directory (scripts/debian-root.sh's, with packages installed) to boot in
// a guest with its own systemd as PID 1: the guest kernel's modules at /lib/modules/<release>
// (so the kernel's on-demand loads work through the root's kmod, as on a Debian host), and a
// oneshot unit that runs the test script once multi-user.target is reached, printing the same
// console markers as stage 2 (PLUMB-GUEST-READY, PLUMB-GUEST-EXIT n), then powers off.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { GuestKernel } from './kernel.js';
import { VmStartError } from './errors.js';

export const guestUnit = 'plumb-guest.service';

const unitText = `[Unit]
Description=plumb QEMU harness: the test script (/mnt/ctl/guest.sh)
After=multi-user.target

[Service]
Type=oneshot
WorkingDirectory=/tmp
StandardInput=null
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0
ExecStart=/bin/sh -c 'echo "PLUMB-GUEST-READY $(uname -r) uptime $(cut -d" " -f1 /proc/uptime)"; sh -e /mnt/ctl/guest.sh; echo "PLUMB-GUEST-EXIT $?"; sync; echo o > /proc/sysrq-trigger'

[Install]
WantedBy=multi-user.target
`;

export function prepareSystemdRoot(root: string, kernel: GuestKernel): void {
  if (!existsSync(path.join(root, 'lib/systemd/systemd'))) throw new VmStartError(`${root} has no /lib/systemd/systemd to boot as init`);
  const modules = path.join(root, 'lib/modules', kernel.release);
  if (!existsSync(modules)) {
    mkdirSync(path.dirname(modules), { recursive: true });
    execFileSync('cp', ['-a', kernel.modulesDir, modules]);
  }
  writeFileSync(path.join(root, 'etc/systemd/system', guestUnit), unitText);
  const wants = path.join(root, 'etc/systemd/system/multi-user.target.wants');
  mkdirSync(wants, { recursive: true });
  if (!existsSync(path.join(wants, guestUnit))) symlinkSync(`/etc/systemd/system/${guestUnit}`, path.join(wants, guestUnit));
  // the root's own hostname and a machine id of its own, so journald and systemd start cleanly
  writeFileSync(path.join(root, 'etc/hostname'), 'plumb-guest\n');
}
