# Sourced by scripts/debian-root.sh and scripts/vagrant/build-box.sh: prints the Debian mirror to
# debootstrap from: PLUMB_DEBIAN_MIRROR, else the one apt on this machine already uses (deb822
# .sources, then sources.list), else deb.debian.org.
debian_mirror() {
  local m=${PLUMB_DEBIAN_MIRROR:-}
  [ -n "$m" ] || m=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*debian\)[[:space:]]*$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1)
  [ -n "$m" ] || m=$(sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\{0,1\}\([^[:space:]]*\)[[:space:]]\+bookworm[[:space:]].*/\2/p' /etc/apt/sources.list 2>/dev/null | head -n 1)
  echo "${m:-http://deb.debian.org/debian}"
}
