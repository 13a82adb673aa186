#!/usr/bin/env bash
# A libvirt Vagrant box of Debian 12 (bookworm) built here from Debian packages alone:
# debootstrap from the mirror apt already uses, Debian's cloud kernel, extlinux as the boot
# loader, and this machine's own nodejs package (Debian 12 ships 18) repacked with dpkg-repack.
# The box carries every Debian package plumb's packages depend on and the lab uses (nats-server,
# iproute2, nftables, busybox-static, dhclient, rsync for the synced folder), so the nodes
# provision without a mirror. Login: user vagrant with Vagrant's insecure public key (Vagrant
# swaps it for a fresh key pair on first `vagrant up`) and password-less sudo.
#
# Usage: scripts/vagrant/build-box.sh [DIR]   (DIR defaults to .cache/vagrant-box)
# Prints the path of DIR/plumb-bookworm.box. Rebuilt only when its inputs change: this script,
# the package list and the host's nodejs version (DIR/stamp).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
dir=${1:-$repo/.cache/vagrant-box}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
box=$dir/plumb-bookworm.box

[ "$(id -u)" = 0 ] || { echo "build-box: run as root (debootstrap, chroot, loop devices)" >&2; exit 2; }
for tool in debootstrap dpkg-repack qemu-img extlinux sfdisk losetup mkfs.ext4 flock; do
  command -v "$tool" >/dev/null || { echo "build-box: $tool is not installed (scripts/setup.sh installs it)" >&2; exit 2; }
done
mbr=/usr/lib/EXTLINUX/mbr.bin
[ -f "$mbr" ] || { echo "build-box: $mbr is missing (package extlinux)" >&2; exit 2; }
vagrant_pub=$(find /usr/share/rubygems-integration /usr/lib/ruby /opt/vagrant -path '*/keys/vagrant.pub' 2>/dev/null | head -n 1 || true)
[ -n "$vagrant_pub" ] || { echo "build-box: Vagrant's insecure public key (keys/vagrant.pub) not found; is Debian's vagrant installed?" >&2; exit 2; }

includes=systemd,systemd-sysv,udev,kmod,dbus,ifupdown,isc-dhcp-client,openssh-server,sudo,linux-image-cloud-amd64,initramfs-tools,iproute2,nftables,nats-server,adduser,libsystemd0,busybox-static,rsync,iputils-ping,procps,ca-certificates,less,tcpdump,python3
node_version=$(dpkg-query -W -f='${Version}' nodejs 2>/dev/null) || { echo "build-box: this machine's Node.js is not the Debian package nodejs" >&2; exit 2; }
want="$(sha256sum "$0" | cut -c1-16) $includes nodejs=$node_version"

exec 9>"$dir/lock"
flock 9
if [ -f "$box" ] && [ -f "$dir/stamp" ] && [ "$(cat "$dir/stamp")" = "$want" ]; then
  echo "$box"
  exit 0
fi
started=$(date +%s)

. "$repo/scripts/lib/debian-mirror.sh"
mirror=$(debian_mirror)

root=$dir/root
work=$dir/work
mnt=$dir/mnt
loop=
cleanup() {
  mountpoint -q "$mnt" 2>/dev/null && umount "$mnt"
  [ -n "$loop" ] && losetup -d "$loop" 2>/dev/null
  true
}
trap cleanup EXIT
rm -rf "$root" "$work" "$dir/stamp" "$box"
mkdir -p "$work" "$mnt"

echo "build-box: debootstrap bookworm from $mirror (log: $dir/debootstrap.log)" >&2
debootstrap --variant=minbase --include="$includes" bookworm "$root" "$mirror" > "$dir/debootstrap.log" 2>&1 || {
  tail -n 20 "$dir/debootstrap.log" >&2
  echo "build-box: debootstrap failed (full log: $dir/debootstrap.log)" >&2
  exit 1
}

(cd "$work" && dpkg-repack --deb-option=-Znone nodejs > "$dir/dpkg-repack.log" 2>&1) || { tail -n 5 "$dir/dpkg-repack.log" >&2; exit 1; }
cp "$work"/nodejs_*.deb "$root/tmp/"

# Debian's nats-server package enables its unit; plumb's controller provisioning configures and
# starts it, and a hypervisor node must not run one.
cat > "$root/tmp/configure.sh" <<'EOF'
set -eu
export DEBIAN_FRONTEND=noninteractive
dpkg -i /tmp/nodejs_*.deb >/dev/null
rm -f /tmp/nodejs_*.deb
systemctl disable nats-server >/dev/null 2>&1 || true
useradd --create-home --shell /bin/bash --user-group vagrant
echo 'vagrant ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/vagrant
chmod 0440 /etc/sudoers.d/vagrant
install -d -o vagrant -g vagrant -m 0700 /home/vagrant/.ssh
install -o vagrant -g vagrant -m 0600 /tmp/vagrant.pub /home/vagrant/.ssh/authorized_keys
rm -f /tmp/vagrant.pub
# every clone of the box gets its own host keys, made at its first boot
rm -f /etc/ssh/ssh_host_*
mkdir -p /etc/systemd/system/ssh.service.d
printf '[Service]\nExecStartPre=\nExecStartPre=/usr/bin/ssh-keygen -A\nExecStartPre=/usr/sbin/sshd -t\n' > /etc/systemd/system/ssh.service.d/host-keys.conf
printf 'UseDNS no\n' > /etc/ssh/sshd_config.d/vagrant.conf
systemctl enable ssh >/dev/null 2>&1
# a box carries no machine id: each clone makes its own
: > /etc/machine-id
rm -f /var/lib/dbus/machine-id
echo bookworm > /etc/hostname
printf '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n' > /etc/hosts
printf 'auto lo\niface lo inet loopback\n\nauto eth0\niface eth0 inet dhcp\n\nsource /etc/network/interfaces.d/*\n' > /etc/network/interfaces
mkdir -p /etc/network/interfaces.d
apt-get clean
rm -rf /var/lib/apt/lists/*
EOF
cp "$vagrant_pub" "$root/tmp/vagrant.pub"
chroot "$root" sh /tmp/configure.sh
rm -f "$root/tmp/configure.sh"

# The disk: one bootable partition from 1 MiB, ext4 without the features extlinux cannot read,
# extlinux in /boot/extlinux and syslinux's MBR code in front.
size_gib=8
img=$work/disk.raw
truncate -s ${size_gib}G "$img"
echo 'start=2048, type=83, bootable' | sfdisk -q "$img"
offset=$((2048 * 512))
part_bytes=$(( size_gib * 1024 * 1024 * 1024 - offset ))
loop=$(losetup -f --show --offset "$offset" --sizelimit "$part_bytes" "$img")
mkfs.ext4 -q -L root -O ^64bit,^metadata_csum_seed "$loop"
uuid=$(blkid -s UUID -o value "$loop")
mount "$loop" "$mnt"
cp -a "$root/." "$mnt/"
printf 'UUID=%s / ext4 errors=remount-ro 0 1\n' "$uuid" > "$mnt/etc/fstab"
kernel=$(cd "$mnt/boot" && ls vmlinuz-* | sort -V | tail -n 1)
initrd=initrd.img-${kernel#vmlinuz-}
[ -f "$mnt/boot/$initrd" ] || { echo "build-box: $initrd missing in the root" >&2; exit 1; }
mkdir -p "$mnt/boot/extlinux"
extlinux --install "$mnt/boot/extlinux" >/dev/null 2>&1
cat > "$mnt/boot/extlinux/extlinux.conf" <<EOF
DEFAULT debian
TIMEOUT 0
PROMPT 0
LABEL debian
  LINUX /boot/$kernel
  INITRD /boot/$initrd
  APPEND root=UUID=$uuid ro console=ttyS0,115200 net.ifnames=0 biosdevname=0
EOF
umount "$mnt"
losetup -d "$loop"
loop=
dd if="$mbr" of="$img" bs=440 count=1 conv=notrunc status=none

echo "build-box: converting to qcow2" >&2
qemu-img convert -c -O qcow2 "$img" "$work/box.img"
rm -f "$img"
printf '{"provider":"libvirt","format":"qcow2","virtual_size":%d}\n' "$size_gib" > "$work/metadata.json"
cat > "$work/Vagrantfile" <<'EOF'
# plumb's Debian 12 box: boots from its own disk (extlinux), serial console on ttyS0.
Vagrant.configure("2") do |config|
  config.vm.provider :libvirt do |lv|
    lv.disk_bus = "virtio"
  end
end
EOF
tar -C "$work" -cf "$box.partial" metadata.json Vagrantfile box.img
mv "$box.partial" "$box"
rm -rf "$work" "$root"
echo "$want" > "$dir/stamp"
echo "build-box: $box built in $(( $(date +%s) - started )) s ($(du -h "$box" | cut -f1))" >&2
echo "$box"
