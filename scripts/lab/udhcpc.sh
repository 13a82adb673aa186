#!/bin/sh
# udhcpc event script for lab VMs (busybox udhcpc -s): applies exactly what plumb's DHCP
# responder handed out: address, default gateway, classless static routes, MTU, DNS.
set -e
case "$1" in
  deconfig)
    ip -4 addr flush dev "$interface" 2>/dev/null || true
    ip link set "$interface" up
    ;;
  bound|renew)
    ip -4 addr flush dev "$interface" 2>/dev/null || true
    ip addr add "$ip/${mask:-24}" dev "$interface"
    [ -n "$mtu" ] && ip link set "$interface" mtu "$mtu"
    if [ -n "$staticroutes" ]; then
      # pairs of "destination gateway" (RFC 3442, option 121)
      set -- $staticroutes
      while [ $# -ge 2 ]; do ip route replace "$1" via "$2" dev "$interface" || true; shift 2; done
    fi
    for r in $router; do ip route replace default via "$r" dev "$interface" && break; done
    if [ -n "$dns" ]; then
      d="/run/plumb-lab/vm-resolv/${VM_NAME:-vm}"; mkdir -p "$(dirname "$d")"
      : > "$d"; for s in $dns; do echo "nameserver $s" >> "$d"; done
    fi
    ;;
esac
exit 0
