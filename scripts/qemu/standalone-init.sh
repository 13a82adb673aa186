#!/bin/busybox sh
# PID 1 of a guest that shares nothing with the host: a libvirt domain that live-migrates
# (virtiofs, which the harness's own guests use, blocks migration). Loads the NIC modules, takes
# its addresses from DHCP on every NIC with busybox udhcpc (renewing in the background) and stays up,
# answering pings. Its console lines (PLUMB-GUEST-*) are what tests read. Built into the
# standalone initramfs by src/qemu/initramfs.ts; changing this file rebuilds it.
/bin/busybox mkdir -p /proc /sys /dev /tmp
/bin/busybox mount -t devtmpfs dev /dev
exec </dev/console >/dev/console 2>&1
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
for m in $(cat /modules.order); do
  insmod "/modules/$m.ko" 2>/dev/null || echo "plumb-init: insmod $m failed"
done
name=$(sed -n 's/.*plumb_name=\([^ ]*\).*/\1/p' /proc/cmdline)
hostname "${name:-guest}"
ip link set lo up
nics=$(cd /sys/class/net && ls -d eth* 2>/dev/null)
for n in $nics; do ip link set "$n" up; done
cat > /bin/lease <<'SCRIPT'
#!/bin/sh
# udhcpc's hook: $1 is the event; interface, ip, mask (prefix length), router come from the lease
case "$1" in
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    [ -z "$router" ] || ip route replace default via "${router%% *}" dev "$interface"
    echo "PLUMB-GUEST-LEASE $interface $1 $ip/${mask:-24} router=${router:-none}" ;;
  leasefail|nak) echo "PLUMB-GUEST-DHCP $interface $1" ;;
esac
SCRIPT
chmod 755 /bin/lease
echo "PLUMB-GUEST-BOOTED $(cut -d' ' -f1 /proc/uptime) $nics"
for n in $nics; do udhcpc -i "$n" -s /bin/lease -t 60 -T 1 -A 1 -b -x hostname:"${name:-guest}"; done
# plumb_dhcp_probe=<nic>: a full DHCP exchange on that NIC every 0.2 s, configuring nothing, so
# a test sees who answers the VM at every moment (a live migration must never get two answers)
probe=$(sed -n 's/.*plumb_dhcp_probe=\([^ ]*\).*/\1/p' /proc/cmdline)
if [ -n "$probe" ]; then
  (while :; do udhcpc -i "$probe" -n -q -s /bin/true -t 1 -T 1 -A 0 >/dev/null 2>&1; sleep 0.2; done) &
fi
echo "PLUMB-GUEST-READY"
while :; do sleep 3600; done
