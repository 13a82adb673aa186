#!/usr/bin/env bash
# libvirtd (with virtlogd) inside a network namespace of its own, so that the Vagrant lab's
# libvirt networks, their dnsmasq and every packet of its VMs stay off the root namespace: the
# namespace has no uplink, and the lab's networks forward nowhere. Vagrant runs in the same
# namespace (`exec`), since it reaches the nodes over libvirt's management network.
#
# Usage: scripts/vagrant/libvirt-netns.sh start|stop|status
#        scripts/vagrant/libvirt-netns.sh exec CMD...   run CMD inside the namespace
# PLUMB_VAGRANT_NETNS names the namespace (default plumb-vagrant). A libvirtd that is already
# running outside it (Debian's libvirtd.service, say) is refused, not shared: its networks would
# land in the root namespace.
set -euo pipefail
ns=${PLUMB_VAGRANT_NETNS:-plumb-vagrant}
run=/run/plumb-vagrant/$ns
pidfile=/run/libvirtd.pid
pool_dir=/var/lib/libvirt/images

log() { echo "libvirt-netns: $*" >&2; }
libvirtd_pid() { [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null && cat "$pidfile"; }
in_ns() { [ "$(ip netns identify "$1" 2>/dev/null)" = "$ns" ]; }

start() {
  [ "$(id -u)" = 0 ] || { log "run as root"; exit 2; }
  command -v libvirtd >/dev/null || { log "libvirtd is not installed (scripts/setup.sh installs libvirt-daemon-system)"; exit 2; }
  mkdir -p "$run"
  ip netns list | grep -qx "$ns\( .*\)\?" || ip netns add "$ns"
  ip -n "$ns" link set lo up
  if pid=$(libvirtd_pid); then
    in_ns "$pid" || { log "a libvirtd (pid $pid) runs outside namespace $ns; stop it first (systemctl stop libvirtd)"; exit 1; }
  else
    pgrep -x virtlogd >/dev/null || { virtlogd --daemon && touch "$run/started-virtlogd"; }
    ip netns exec "$ns" libvirtd --daemon --pid-file "$pidfile"
    for _ in $(seq 1 100); do virsh -c qemu:///system version >/dev/null 2>&1 && break; sleep 0.1; done
    virsh -c qemu:///system version >/dev/null || { log "libvirtd did not answer on qemu:///system"; exit 1; }
    touch "$run/started-libvirtd"
  fi
  # vagrant-libvirt keeps box images and node disks in the pool named default
  if ! virsh -q -c qemu:///system pool-info default >/dev/null 2>&1; then
    mkdir -p "$pool_dir"
    virsh -q -c qemu:///system pool-define-as default dir --target "$pool_dir" >/dev/null
    touch "$run/defined-pool"
  fi
  virsh -q -c qemu:///system pool-start default >/dev/null 2>&1 || true
  log "libvirtd $(libvirtd_pid) in namespace $ns"
}

stop() {
  if pid=$(libvirtd_pid) && in_ns "$pid"; then
    if [ -f "$run/defined-pool" ]; then
      virsh -q -c qemu:///system pool-destroy default >/dev/null 2>&1 || true
      virsh -q -c qemu:///system pool-undefine default >/dev/null 2>&1 || true
    fi
    kill "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  [ -f "$run/started-virtlogd" ] && pkill -x virtlogd
  # dnsmasq of the lab's networks lives in the namespace too: end whatever is left there
  for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
  ip netns list | grep -qx "$ns\( .*\)\?" && ip netns del "$ns"
  rm -rf "$run"
  true
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  status) pid=$(libvirtd_pid) && in_ns "$pid" && echo "libvirtd $pid in $ns" ;;
  exec) shift; exec ip netns exec "$ns" "$@" ;;
  *) echo "usage: $0 start|stop|status|exec CMD..." >&2; exit 2 ;;
esac
