// The environment Ganeti gives a NIC script (hv_base.ConfigureNIC; the script is
// /etc/ganeti/kvm-vif-bridge in Ganeti 3.0, kvm-ifup-custom in snf-ganeti 2.x): INSTANCE, MAC,
// MODE, INTERFACE (the tap Ganeti opened), INTERFACE_INDEX, INTERFACE_UUID, TAGS, and when set
// IP, INTERFACE_NAME, LINK, VLAN, BRIDGE and NETWORK_{NAME,UUID,TAGS,SUBNET,GATEWAY,SUBNET6,
// GATEWAY6,MAC_PREFIX}. Validated by variable name, since these end up in API calls and logs.
import { ifname } from '../state/schema.js';
import { ValidationError } from '../util/errors.js';

export interface GanetiNic {
  instance: string;
  interface: string;
  mac: string;
  mode: string;
  index: number | undefined;
  ip: string | undefined;
  link: string | undefined;
  networkName: string | undefined;
  tags: string[];
}

const MAC = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;

export function parseGanetiNic(env: NodeJS.ProcessEnv): GanetiNic {
  const need = (name: string): string => {
    const v = env[name];
    if (v === undefined || v === '') throw new ValidationError(name, 'is not set: run this as Ganeti\'s NIC script (kvm-vif-bridge or kvm-ifup-custom), which sets it');
    return v;
  };
  const dev = need('INTERFACE');
  const name = ifname.safeParse(dev);
  if (!name.success) throw new ValidationError('INTERFACE', `'${dev}' is not an interface name (${name.error.issues[0]?.message ?? 'invalid'})`);
  const mac = need('MAC');
  if (!MAC.test(mac)) throw new ValidationError('MAC', `'${mac}' is not a MAC address`);
  const index = env.INTERFACE_INDEX;
  if (index !== undefined && !/^\d+$/.test(index)) throw new ValidationError('INTERFACE_INDEX', `'${index}' is not a NIC index`);
  return {
    instance: env.INSTANCE ?? '',
    interface: dev,
    mac: mac.toLowerCase(),
    mode: need('MODE'),
    index: index === undefined ? undefined : Number(index),
    ip: env.IP || undefined,
    link: env.LINK || undefined,
    networkName: env.NETWORK_NAME || undefined,
    tags: (env.TAGS ?? '').split(/\s+/).filter(Boolean),
  };
}

export function describeNic(nic: GanetiNic): string {
  return `instance ${nic.instance || '?'} NIC ${nic.index ?? '?'} on ${nic.interface}`;
}
