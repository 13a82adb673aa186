#!/usr/bin/env bash
# Every node: Node 20 and plumb from the synced folder (/opt/plumb), built, on PATH.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends ca-certificates curl gnupg iproute2 nftables busybox-static >/dev/null
if ! command -v node >/dev/null || ! node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)'; then
  # Debian 12's own nodejs is 18: use the distribution's nodesource-free path if present, else npm's n
  apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  npm install -g n >/dev/null && n 20 >/dev/null
fi
cd /opt/plumb
npm ci --no-audit --no-fund --loglevel=error
npm run --silent build
ln -sf /opt/plumb/bin/plumb.js /usr/bin/plumb
install -d -m 0755 /etc/plumb
