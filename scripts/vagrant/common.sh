#!/usr/bin/env bash
# Every node: plumb from its Debian packages, built on the Vagrant host by the Vagrantfile's
# trigger (scripts/package.sh --with-nodejs) and carried by the rsync synced folder; apt brings
# their dependencies. A box that carries them (scripts/vagrant/build-box.sh) needs no mirror;
# any other box gets them from its Debian mirror. Nothing is built on the node.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
debs=/opt/plumb/scripts/vagrant/.debs
ls "$debs"/plumb_*.deb "$debs"/nodejs_*.deb >/dev/null
install=(apt-get install -y -qq --no-install-recommends "$debs"/nodejs_*.deb "$debs"/plumb_*.deb busybox-static)
"${install[@]}" >/dev/null 2>&1 || { apt-get update -qq && "${install[@]}" >/dev/null; }
plumb --version
