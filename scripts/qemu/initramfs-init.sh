#!/bin/busybox sh
# Stage 1 (PID 1 in the harness's initramfs): load the modules, mount the host's root
# filesystem (virtiofs tag "hostroot", cached) read-only under a tmpfs overlay so the guest can
# write without touching the host, then switch_root into it and run
# scripts/qemu/guest-stage2.sh from the shared tree. Built into the image by src/qemu/initramfs.ts; changing this file rebuilds it.
/bin/busybox mkdir -p /proc /sys /dev
/bin/busybox mount -t devtmpfs dev /dev
exec </dev/console >/dev/console 2>&1
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
for m in $(cat /modules.order); do
  insmod "/modules/$m.ko" || echo "plumb-init: insmod $m failed"
done
fail() { echo "PLUMB-GUEST-FATAL $*"; echo o > /proc/sysrq-trigger; sleep 10; }
echo "plumb-init: modules loaded at $(cut -d" " -f1 /proc/uptime)"
mkdir -p /host /rw /newroot
mount -t virtiofs -o ro hostroot /host || fail "mount virtiofs hostroot"
mount -t tmpfs -o size=256m,mode=755 rw /rw || fail "mount tmpfs"
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/host,upperdir=/rw/upper,workdir=/rw/work overlay /newroot || fail "mount overlay"
# The per-run directory (virtiofs tag "ctl", uncached, writable): the guest's script, control
# files the host writes while the guest runs, results the guest writes back.
mkdir -p /newroot/mnt/ctl
mount -t virtiofs ctl /newroot/mnt/ctl || fail "mount virtiofs ctl"
echo "plumb-init: root ready at $(cut -d" " -f1 /proc/uptime)"
stage2=$(sed -n 's/.*plumb_stage2=\([^ ]*\).*/\1/p' /proc/cmdline)
# plumb_init: boot the shared root's own init (its systemd) instead of the harness's stage 2
init=$(sed -n 's/.*plumb_init=\([^ ]*\).*/\1/p' /proc/cmdline)
umount /proc /sys
[ -z "$init" ] || exec switch_root /newroot "$init"
exec switch_root /newroot /bin/sh "$stage2"
fail "switch_root"
