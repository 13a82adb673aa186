#!/usr/bin/env bash
# Installs everything plumb needs on Debian 12 with Node 20: Debian packages, npm deps, build.
# Idempotent: re-running only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need_root() { [ "$(id -u)" = 0 ] || { echo "setup: run as root (network namespaces and apt need it)" >&2; exit 1; }; }
need_root

mapfile -t pkgs < <(grep -v '^\s*#' scripts/apt-packages.txt | grep -v '^\s*$')
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Packages' maintainer scripts must not start daemons the tests never use (ganeti brings
  # openssh-server): deny every start during the install, unless the machine has a policy of its own.
  policy=/usr/sbin/policy-rc.d
  own_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# written by plumb scripts/setup.sh for the duration of apt-get install\nexit 101\n' > "$policy"
    chmod 755 "$policy"
    own_policy=1
    trap 'rm -f "$policy"' EXIT
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [ "$own_policy" = 1 ]; then rm -f "$policy"; trap - EXIT; fi
fi
# Debian enables these daemons on install; plumb's tests start their own copies on free ports
# (libvirtd inside a namespace of its own: scripts/vagrant/libvirt-netns.sh).
for unit in nats-server dnsmasq kea-dhcp4-server libvirtd virtlogd ganeti postgresql haproxy; do
  systemctl disable --now "$unit" >/dev/null 2>&1 || true
done

node -e 'const [a,b]=process.versions.node.split(".").map(Number); if (a<20||(a===20&&b<11)) { console.error("setup: Node >= 20.11 required, found "+process.version); process.exit(1) }'
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run --silent build

# The README's commands call `plumb` by name: put this checkout's CLI on PATH. A `plumb` that
# this script did not write is left alone (and said so), never overwritten.
wrapper=/usr/local/bin/plumb
marker='# written by plumb scripts/setup.sh'
if [ -e "$wrapper" ] && ! grep -qF "$marker" "$wrapper"; then
  echo "setup: $wrapper exists and is not plumb's wrapper; left as it is (use node $PWD/bin/plumb.js)" >&2
else
  tmp=$(mktemp "$wrapper.XXXXXX")
  printf '#!/bin/sh\n%s\nexec node %q "$@"\n' "$marker" "$PWD/bin/plumb.js" > "$tmp"
  chmod 755 "$tmp"
  mv -f "$tmp" "$wrapper"
fi
