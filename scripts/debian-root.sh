#!/usr/bin/env bash
# A Debian 12 (bookworm) root built once with debootstrap from the Debian mirror apt already uses,
# kept as a cache: the throwaway hosts of the package tests copy it, and a QEMU guest can boot
# it with systemd as init. It has systemd, udev, iproute2, nftables, ping and this machine's own nodejs
# package (Debian 12's nodejs is 18; plumb's packages need the Node they were built with),
# repacked with dpkg-repack and installed, so nothing comes from outside Debian's registry.
# Usage: scripts/debian-root.sh DIR   prints DIR/root once DIR/stamp says it is complete
set -euo pipefail
dir=${1:?usage: scripts/debian-root.sh DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
for tool in debootstrap dpkg-repack flock; do command -v "$tool" >/dev/null || { echo "debian-root: $tool is not installed (scripts/setup.sh installs it)" >&2; exit 2; }; done

includes=adduser,iproute2,nftables,libsystemd0,ca-certificates,python3,systemd,systemd-sysv,udev,kmod,procps,iputils-ping
node_version=$(dpkg-query -W -f='${Version}' nodejs 2>/dev/null) || { echo "debian-root: this machine's Node.js is not the Debian package nodejs" >&2; exit 2; }
want="bookworm minbase $includes nodejs=$node_version"

exec 9>"$dir/lock"
flock 9
if [ -f "$dir/stamp" ] && [ "$(cat "$dir/stamp")" = "$want" ] && [ -x "$dir/root/usr/bin/node" ]; then
  echo "$dir/root"
  exit 0
fi

. "$(dirname "$0")/lib/debian-mirror.sh"
mirror=$(debian_mirror)

rm -rf "$dir/root" "$dir/stamp" "$dir/root.partial"
echo "debian-root: debootstrap bookworm from $mirror into $dir/root (once; log in $dir/debootstrap.log)" >&2
debootstrap --variant=minbase --include="$includes" bookworm "$dir/root.partial" "$mirror" > "$dir/debootstrap.log" 2>&1 || {
  tail -n 20 "$dir/debootstrap.log" >&2
  echo "debian-root: debootstrap failed (full log: $dir/debootstrap.log)" >&2
  exit 1
}
rm -f "$dir"/nodejs_*.deb
# uncompressed: the .deb is only carried into the root; warnings name files npm -g replaced since
(cd "$dir" && dpkg-repack --deb-option=-Znone nodejs > "$dir/dpkg-repack.log" 2>&1) || { tail -n 5 "$dir/dpkg-repack.log" >&2; exit 1; }
cp "$dir"/nodejs_*.deb "$dir/root.partial/tmp/"
chroot "$dir/root.partial" sh -c 'dpkg -i /tmp/nodejs_*.deb >/dev/null && rm -f /tmp/nodejs_*.deb && apt-get clean'
mv "$dir/root.partial" "$dir/root"
echo "$want" > "$dir/stamp"
echo "$dir/root"
