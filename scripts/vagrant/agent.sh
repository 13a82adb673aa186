#!/usr/bin/env bash
# Hypervisor node: the plumb-agent package, configured with this host's credentials and underlay
# address; its unit (enabled by the package) starts once agent.yaml sets something.
set -euo pipefail
host=$1; controller_ip=$2; underlay=$3
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq --no-install-recommends /opt/plumb/scripts/vagrant/.debs/plumb-agent_*.deb >/dev/null
ip addr replace "$underlay/24" dev eth2
ip link set eth2 up; ip link set eth3 up
install -d -m 0700 /etc/plumb/creds
# only this host's seed (written on the Vagrant host, carried by the rsync synced folder)
install -m 0600 "/opt/plumb/scripts/vagrant/.creds/$host.nk" "/etc/plumb/creds/$host.nk"
cat > /etc/plumb/agent.yaml <<YAML
host: $host
nats: { url: nats://$controller_ip:4222, seedFile: /etc/plumb/creds/$host.nk }
underlay: { address: $underlay }
metrics: { listen: 127.0.0.1:9101 }
YAML
plumb agent check-config --config /etc/plumb/agent.yaml
systemctl restart plumb-agent
