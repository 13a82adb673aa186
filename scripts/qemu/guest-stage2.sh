#!/bin/sh
# Stage 2 (PID 1 after switch_root, running the host's own /bin/sh from the shared root):
# a minimal system, then the test script /mnt/ctl/guest.sh from the per-run share.
# Everything the script prints reaches the host on the serial console; the last line is
# "PLUMB-GUEST-EXIT <status>", then the guest powers off at once.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm && mount -t devpts devpts /dev/pts && mount -t tmpfs shm /dev/shm
mount -t tmpfs run /run
# A fresh /tmp, unless the checkout this script comes from lives there (a clone made with
# mktemp -d): hiding it would hide the code under test; the overlay keeps /tmp writable anyway.
repo=$(cd "$(dirname "$0")/../.." && pwd)
case "$repo/" in /tmp/*) ;; *) mount -t tmpfs tmp /tmp ;; esac
arg() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
hostname "$(arg plumb_name)"
# The guest kernel's modules (unpacked in the host's cache, with depmod's index) at their usual
# place, so the kernel's on-demand module requests (nf_tables, dummy, ...) use kmod's modprobe.
mkdir -p "/lib/modules/$(uname -r)" && mount --bind "$(arg plumb_modules)" "/lib/modules/$(uname -r)"
echo /sbin/modprobe > /proc/sys/kernel/modprobe
ip link set lo up
echo "PLUMB-GUEST-READY $(uname -r) uptime $(cut -d" " -f1 /proc/uptime)"
cd /tmp
sh -e /mnt/ctl/guest.sh </dev/null
rc=$?
echo "PLUMB-GUEST-EXIT $rc"
sync
echo o > /proc/sysrq-trigger
sleep 10
