#!/usr/bin/env bash
# Hypervisor node: the plumb-agent package, configured with this host's credentials and underlay
# address; its unit (enabled by the package) starts once agent.yaml sets something.
set -euo pipefail
host=$1; controller_ip=$2; underlay=$3
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq --no-install-recommends /opt/plumb/scripts/vagrant/.debs/plumb-agent_*.deb >/dev/null
# eth2 carries the VXLAN underlay untagged and the PHYSICAL_VLAN trunk; eth3 is the public uplink
# (no address: the agent routes the public network). Written for ifupdown so that both come back
# up after a reboot, before plumb-agent starts (network-online.target).
cat > /etc/network/interfaces.d/plumb <<IFACES
auto eth2
iface eth2 inet static
    address $underlay/24

auto eth3
iface eth3 inet manual
    up ip link set \$IFACE up
    down ip link set \$IFACE down
IFACES
ifdown eth2 eth3 >/dev/null 2>&1 || true
ip addr del "$underlay/24" dev eth2 2>/dev/null || true  # set by hand or by an older provisioning
ifup eth2 eth3
install -d -m 0700 /etc/plumb/creds
# only this host's seed (written on the Vagrant host, carried by the rsync synced folder)
install -m 0600 "/opt/plumb/scripts/vagrant/.creds/$host.nk" "/etc/plumb/creds/$host.nk"
cat > /etc/plumb/agent.yaml <<YAML
host: $host
nats: { url: nats://$controller_ip:4222, seedFile: /etc/plumb/creds/$host.nk }
underlay: { address: $underlay }
# the lab's VMs are namespaces vm-<device> (the controller's portBinding), nothing else
veth: { netnsAllowed: ["vm-*"] }
metrics: { listen: 127.0.0.1:9101 }
YAML
plumb agent check-config --config /etc/plumb/agent.yaml
systemctl restart plumb-agent
