#!/usr/bin/env bash
# Controller node: the plumb-controller package and nats-server, with generated credentials and
# per-host permissions. Seeds come from the Vagrant host (scripts/vagrant/.creds, written by the
# Vagrantfile's trigger); gen-creds keeps them and only fills in what is missing.
set -euo pipefail
mgmt_ip=$1; hosts=$2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq --no-install-recommends /opt/plumb/scripts/vagrant/.debs/plumb-controller_*.deb nats-server >/dev/null
args=(); IFS=, read -ra hs <<< "$hosts"; for h in "${hs[@]}"; do args+=(--host "$h"); done
install -d -m 0700 /etc/plumb/creds
install -m 0600 /opt/plumb/scripts/vagrant/.creds/*.nk /etc/plumb/creds/
plumb bus gen-creds --out /etc/plumb/creds "${args[@]}"
# the controller runs as user plumb: it reads its seed as group plumb
chgrp plumb /etc/plumb/creds /etc/plumb/creds/controller.nk
chmod 0750 /etc/plumb/creds
chmod 0640 /etc/plumb/creds/controller.nk
plumb bus gen-server-config --creds /etc/plumb/creds "${args[@]}" --listen "$mgmt_ip" --store /var/lib/nats/jetstream --out /etc/nats-server.conf
# written 0640 root:root; Debian's unit runs nats-server as user nats
chgrp nats /etc/nats-server.conf
install -d -o nats -g nats /var/lib/nats/jetstream 2>/dev/null || install -d /var/lib/nats/jetstream
# enabled too: the box (and Debian's package on some boxes) leaves it disabled, and the
# controller node must bring the bus back after a reboot
systemctl enable nats-server >/dev/null 2>&1
systemctl restart nats-server
cat > /etc/plumb/controller.yaml <<YAML
listen: 0.0.0.0:9696
database: /var/lib/plumb/controller.db
nats: { url: nats://$mgmt_ip:4222, seedFile: /etc/plumb/creds/controller.nk }
macPrefix: "aa:00:00"
privateNetworks: { defaultType: VXLAN, enabledTypes: [MAC_FILTERED, VXLAN, PHYSICAL_VLAN], cidrRange: 192.168.0.0/16, vniRange: [5000, 5999], vlanRange: [100, 199] }
hosts: { defaults: { underlayDevice: eth2, vlanTrunk: eth2, macFiltered: { bridge: plumbmf0 } } }
# VMs on the hypervisors are network namespaces named vm-<device>, as in plumb lab: each port is a
# veth whose peer lands in its VM's namespace (a VM manager would use taps instead)
portBinding: { kind: veth, netnsTemplate: "vm-{device_id}" }
bindingProfile: { netnsAllowed: ["vm-*"] }
publicNetworks:
  - name: public
    uplink: eth3
    routingTable: 100
    subnets:
      - { cidr: 203.0.113.0/24, gateway: 203.0.113.1, allocationPools: [{ start: 203.0.113.10, end: 203.0.113.200 }], dns: [203.0.113.1] }
users:
  - { name: admin, password: admin-password, project: admin, roles: [admin] }
  - { name: nova, password: nova-password, project: service, roles: [service] }
  - { name: demo, password: demo-password, project: demo }
YAML
plumb controller check-config --config /etc/plumb/controller.yaml
systemctl restart plumb-controller
