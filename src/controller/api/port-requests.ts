// POST and PUT /v2.0/ports. A port's device id, host and binding profile end up in device and
// namespace names on a host, so each is held to what those names allow.
import { z } from 'zod';
import { ifname } from '../../state/schema.js';
import { shown } from './decode.js';
import { adminUp, bool, deviceId, hostId, ipAddress, list, macAddress, name, object, projectId, ref, text } from './fields.js';

export const FIREWALL_PROFILES = ['DISABLED', 'ENABLED', 'PROTECTED'] as const;
export type FirewallProfile = (typeof FIREWALL_PROFILES)[number];

const firewallProfile = z.enum(FIREWALL_PROFILES, { error: (iss) => (iss.input === undefined ? 'is required' : `'${shown(iss.input)}' is not DISABLED, ENABLED or PROTECTED`) });

/** One requested address: a given address, or the next free one of a given subnet. */
const fixedIp = object({ ip_address: ipAddress.optional(), subnet_id: ref.optional() }).refine((f) => f.ip_address !== undefined || f.subnet_id !== undefined, 'needs ip_address or subnet_id');

/**
 * How the agent plugs the port: a tap, or a veth into the device's namespace (the lab). `ifname`
 * names the host-side device; `adopt` says the VM manager (libvirt, Ganeti) creates and destroys
 * that tap and plumb only adopts it (docs/hypervisors.md).
 */
const bindingProfile = object({
  kind: z.enum(['tap', 'veth'], { error: () => "must be 'tap' or 'veth'" }).optional(),
  netns: text(64).regex(/^[A-Za-z0-9_.-]+$/, 'is not a namespace name (letters, digits, _ . -)').refine((n) => n !== '.' && n !== '..', 'is not a namespace name').optional(),
  peer_name: ifname.optional(),
  ifname: ifname.optional(),
  adopt: bool.optional(),
  /** the destination host of a live migration in progress (Nova's binding:profile field) */
  migrating_to: hostId.optional(),
}).refine((b) => !(b.adopt === true && (b.kind === 'veth' || b.netns !== undefined)), { message: "only a tap can be adopted (the VM manager creates taps; veths are plumb's)", path: ['adopt'] });
export type BindingProfile = z.output<typeof bindingProfile>;

export const createPortFields = object({
  network_id: ref,
  name: name.optional(),
  device_id: deviceId.optional(),
  fixed_ips: list(fixedIp, 16).optional(),
  mac_address: macAddress.optional(),
  'binding:host_id': z.union([hostId, z.literal('')]).nullable().optional(),
  'binding:profile': bindingProfile.optional(),
  firewall_profile: firewallProfile.optional(),
  admin_state_up: adminUp.optional(),
  /** the project that owns the port: admin and service only (the VM manager acts for a project) */
  project_id: projectId.optional(),
  tenant_id: projectId.optional(),
}).refine((b) => b.project_id === undefined || b.tenant_id === undefined || b.project_id === b.tenant_id, { message: 'differs from tenant_id (give one, or both the same)', path: ['project_id'] });
export const createPortRequest = createPortFields.transform((b) => ({
  networkId: b.network_id,
  name: b.name,
  deviceId: b.device_id ?? '',
  fixedIps: b.fixed_ips ?? [],
  mac: b.mac_address,
  // undefined: not asked for (the binding attributes are policy-checked only when given)
  host: b['binding:host_id'] === undefined ? undefined : b['binding:host_id'] || null,
  profile: b['binding:profile'],
  firewall: b.firewall_profile,
  project: b.project_id ?? b.tenant_id,
}));
export type CreatePortRequest = z.output<typeof createPortRequest>;

// attributes a port keeps for life: named so that the refusal says so
const immutable = (field: string) => z.unknown().refine(() => false, `cannot be changed on an existing port (delete the port and create another); ${field} stays as it is`);

export const updatePortFields = object({
  name: name.optional(),
  'binding:host_id': z.union([hostId, z.literal('')]).nullable().optional(),
  firewall_profile: firewallProfile.optional(),
  admin_state_up: adminUp.optional(),
  network_id: immutable('network_id').optional(),
  fixed_ips: immutable('fixed_ips').optional(),
  mac_address: immutable('mac_address').optional(),
  device_id: immutable('device_id').optional(),
  // replaced whole, as Nova does when it (re)binds a port
  'binding:profile': bindingProfile.optional(),
});
export const updatePortRequest = updatePortFields.transform((b) => ({
  name: b.name,
  // undefined: unchanged; null: unbound
  host: b['binding:host_id'] === undefined ? undefined : b['binding:host_id'] || null,
  profile: b['binding:profile'],
  firewall: b.firewall_profile,
}));
export type UpdatePortRequest = z.output<typeof updatePortRequest>;
