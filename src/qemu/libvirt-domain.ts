// The libvirt domain XML of a test VM on plumb ports: direct kernel boot of Debian's cloud kernel
// with the standalone initramfs (nothing shared with the host, so it can live-migrate), a fixed
// CPU model (both ends of a migration must offer it under TCG), and one <interface
// type='ethernet'> per NIC. That element is what an operator writes for a plumb port:
//
//   plumb makes the tap (binding:profile {}):     <target dev='tap<port-id[:11]>' managed='no'/>
//     libvirt opens the tap the agent made and never creates or deletes it;
//   libvirt makes the tap (binding:profile {ifname, adopt: true}):  <target dev='<ifname>'/>
//     libvirt creates it when the domain starts and deletes it when it stops; plumb adopts it.
//
// In both cases the <mac> is the port's: DHCP, port security and MAC_FILTERED isolation key on it.
const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/'/g, '&apos;').replace(/"/g, '&quot;');

export interface DomainNic {
  mac: string;
  tap: string;
  /** false: libvirt creates (and deletes) the tap itself, for plumb to adopt */
  plumbMadeTap: boolean;
}

export interface DomainSpec {
  name: string;
  vmlinuz: string;
  initrd: string;
  nics: DomainNic[];
  /** the serial console goes to this file (appended, so a migrated guest keeps one log) */
  consoleLog: string;
  memoryMb?: number;
  /** extra kernel command line (standalone-init.sh reads plumb_dhcp_probe=<nic>) */
  cmdline?: string;
}

export function interfaceXml(nic: DomainNic): string {
  const target = nic.plumbMadeTap ? `<target dev='${esc(nic.tap)}' managed='no'/>` : `<target dev='${esc(nic.tap)}'/>`;
  return `<interface type='ethernet'><mac address='${esc(nic.mac)}'/>${target}<model type='virtio'/></interface>`;
}

export function domainXml(d: DomainSpec): string {
  return `<domain type='qemu'>
  <name>${esc(d.name)}</name>
  <memory unit='MiB'>${d.memoryMb ?? 192}</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>${esc(d.vmlinuz)}</kernel>
    <initrd>${esc(d.initrd)}</initrd>
    <cmdline>console=ttyS0 quiet loglevel=3 panic=-1 net.ifnames=0 plumb_name=${esc(d.name)}${d.cmdline ? ` ${esc(d.cmdline)}` : ''}</cmdline>
  </os>
  <cpu mode='custom' match='exact'><model fallback='forbid'>qemu64</model></cpu>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    ${d.nics.map(interfaceXml).join('\n    ')}
    <serial type='file'><source path='${esc(d.consoleLog)}' append='on'/><target port='0'/></serial>
    <memballoon model='none'/>
  </devices>
</domain>
`;
}
