// The desired state of one host: the contract between the controller (its only writer), the
// agent's reconciler, the DHCP/RA responder and the port-security rules. Versioned; the
// TypeScript types are derived from the zod schemas so the two cannot drift apart.
//
// Field-level checks live here; cross-object checks (duplicates, references, addresses inside
// subnets) live in validate.ts, which also turns failures into per-object rejections.
import { z } from 'zod';
import { canonicalAddressOf, canonicalCidrOf } from '../util/ip.js';

export const SCHEMA_VERSION = 1;

/** Linux IFNAMSIZ is 16 including the NUL: at most 15 bytes, no '/', ':' or whitespace. */
export const ifname = z
  .string()
  .min(1, 'must not be empty')
  .refine((s) => Buffer.byteLength(s) <= 15, 'interface names are at most 15 bytes (IFNAMSIZ)')
  .refine((s) => !/[\s/:]/.test(s) && s !== '.' && s !== '..', "interface names may not contain '/', ':' or whitespace");

export const objectId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'ids are 1-64 characters of letters, digits, ".", "_" and "-", starting with a letter or digit');

// Addresses and CIDRs in a desired state (and in the configs) are in their one canonical
// spelling: the controller writes only those, and a document with another spelling of the same
// address could hide a duplicate from every check that compares text.
const notCanonical = (what: string, canonical: (s: string) => string | undefined) => (iss: { input?: unknown }) => {
  const s = String(iss.input);
  const c = canonical(s);
  return c === undefined ? `not a valid ${what}` : `'${s}' is not in canonical form (write ${c})`;
};

export const ipAddress = z.string().refine((s) => canonicalAddressOf(s) === s, { error: notCanonical('IPv4 or IPv6 address', canonicalAddressOf) });

export const cidr = z.string().refine((s) => canonicalCidrOf(s) === s, { error: notCanonical('CIDR (address/prefix-length)', canonicalCidrOf) });

/** Unicast MAC, lower or upper case hex, colon separated. */
export const macAddress = z
  .string()
  .regex(/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/, 'not a MAC address (six colon-separated hex octets)')
  .refine((s) => (parseInt(s.slice(0, 2), 16) & 1) === 0, 'must be a unicast MAC (the multicast bit of the first octet is set)')
  .refine((s) => s !== '00:00:00:00:00:00', 'the all-zero MAC is not a valid port MAC')
  .transform((s) => s.toLowerCase());

/** A MAC prefix of 1-5 octets, e.g. "aa:00:01" (Synnefo's MAC_FILTERED model). */
export const macPrefix = z
  .string()
  .regex(/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){0,4}$/, 'not a MAC prefix (1-5 colon-separated hex octets)')
  .transform((s) => s.toLowerCase());

export const hostRoute = z.object({ destination: cidr, nexthop: ipAddress }).strict();

export const subnetSchema = z
  .object({
    id: z.string().optional(),
    cidr,
    gateway: ipAddress.optional(),
    dns: z.array(ipAddress).default([]),
    /** Whether plumb's responder answers DHCPv4 / RA for ports in this subnet. */
    dhcp: z.boolean().default(true),
    /** DNS search domains (DHCP option 119, RDNSS/DNSSL, DHCPv6 domain list). */
    searchDomains: z.array(z.string().min(1)).default([]),
    /** Classless static routes (RFC 3442) handed to DHCP clients. */
    routes: z.array(hostRoute).default([]),
    leaseSeconds: z.number().int().min(60).max(0x7fffffff).default(86400),
    /** IPv6 only: how hosts configure addresses (sets the RA M and O flags). */
    ipv6Mode: z.enum(['slaac', 'dhcpv6-stateless', 'dhcpv6-stateful']).default('slaac'),
  })
  .strict();

export const NETWORK_TYPES = ['PHYSICAL_VLAN', 'VXLAN', 'MAC_FILTERED', 'IP_LESS_ROUTED', 'CUSTOM'] as const;
export type NetworkType = (typeof NETWORK_TYPES)[number];

const networkCommon = {
  id: objectId,
  mtu: z.number().int().min(576).max(9000).default(1500),
  subnets: z.array(subnetSchema).default([]),
  /** DNS domain handed to DHCP clients (option 15). */
  domain: z.string().min(1).optional(),
};

export const vlanNetworkSchema = z
  .object({
    ...networkCommon,
    type: z.literal('PHYSICAL_VLAN'),
    segmentId: z.number().int().min(1, 'VLAN ids are 1-4094').max(4094, 'VLAN ids are 1-4094'),
    /** Trunk device; the subinterface is `<uplink>.<segmentId>`. */
    uplink: ifname,
  })
  .strict();

export const vxlanNetworkSchema = z
  .object({
    ...networkCommon,
    type: z.literal('VXLAN'),
    segmentId: z.number().int().min(1, 'VNIs are 1-16777215').max(0xffffff, 'VNIs are 1-16777215'),
    /** Underlay device; defaults to host.underlay.device. */
    uplink: ifname.optional(),
    /** Local VTEP address; defaults to host.underlay.address. */
    localAddress: ipAddress.optional(),
    /** VTEPs of the other hosts of this network (head-end replication). */
    remotes: z.array(ipAddress).default([]),
    port: z.number().int().min(1).max(65535).default(4789),
  })
  .strict();

export const macFilteredNetworkSchema = z
  .object({ ...networkCommon, type: z.literal('MAC_FILTERED'), macPrefix })
  .strict();

export const routedNetworkSchema = z
  .object({
    ...networkCommon,
    type: z.literal('IP_LESS_ROUTED'),
    /** Device facing the upstream router; VM addresses are proxied here. */
    uplink: ifname,
    /** Policy-routing table for traffic from this network's ports. */
    routingTable: z
      .number()
      .int()
      .min(1)
      .max(0x7fffffff)
      .refine((t) => t !== 253 && t !== 254 && t !== 255, 'tables 253 (default), 254 (main) and 255 (local) are reserved'),
  })
  .strict();

export const customNetworkSchema = z
  .object({
    ...networkCommon,
    type: z.literal('CUSTOM'),
    /** An existing bridge, not created or deleted by plumb. */
    bridge: ifname,
  })
  .strict();

export const networkSchema = z.discriminatedUnion('type', [
  vlanNetworkSchema,
  vxlanNetworkSchema,
  macFilteredNetworkSchema,
  routedNetworkSchema,
  customNetworkSchema,
]);

export const FIREWALL_PROFILES = ['DISABLED', 'ENABLED', 'PROTECTED'] as const;
export type FirewallProfile = (typeof FIREWALL_PROFILES)[number];

/** A uid or a user name, resolved on the host. */
const owner = z.union([z.number().int().min(0), z.string().min(1)]);

export const portSchema = z
  .object({
    id: objectId,
    network: objectId,
    mac: macAddress,
    addresses: z.array(ipAddress).default([]),
    kind: z.enum(['tap', 'veth']).default('tap'),
    /** Overrides the derived interface name. */
    ifname: ifname.optional(),
    tap: z
      .object({
        owner: owner.optional(),
        group: owner.optional(),
        multiQueue: z.boolean().default(false),
        vnetHdr: z.boolean().default(true),
        /**
         * The VM manager (libvirt with managed='no' taps it made itself, Ganeti, Nova's vif_type
         * tap) creates and destroys the tap: plumb never creates it, adopts it when it appears
         * (any owner, queues, vnet_hdr), and hands it back on the port's removal instead of
         * deleting it.
         */
        adopt: z.boolean().default(false),
      })
      .strict()
      .optional(),
    veth: z
      .object({
        /** Named network namespace (/run/netns/<name>) that receives the peer. */
        netns: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'not a valid network namespace name'),
        peerName: ifname.default('eth0'),
      })
      .strict()
      .optional(),
    firewallProfile: z.enum(FIREWALL_PROFILES).default('DISABLED'),
    /** Anti-spoofing on by default; false only for appliances that route for others. */
    portSecurity: z.boolean().default(true),
    /** Hostname handed out by DHCP (option 12). */
    hostname: z.string().min(1).max(63).optional(),
    /**
     * The destination of a live migration, before the switch: the device is made (or adopted)
     * and plugged, port security applied, but no route, proxy entry or DHCP/RA answer exists
     * here, so the port is never served by two hosts. Reported ACTIVE once ready.
     */
    standby: z.boolean().default(false),
    /** Controller's revision of this port, echoed back in status reports. */
    revision: z.number().int().min(0).default(0),
  })
  .strict();

export const macFilteredUplinkSchema = z.union([
  ifname,
  z
    .object({
      vxlan: z
        .object({
          vni: z.number().int().min(1).max(0xffffff),
          remotes: z.array(ipAddress).default([]),
          device: ifname.optional(),
          localAddress: ipAddress.optional(),
          port: z.number().int().min(1).max(65535).default(4789),
        })
        .strict(),
    })
    .strict(),
]);

export const hostSchema = z
  .object({
    name: z.string().min(1).max(253),
    underlay: z.object({ device: ifname.optional(), address: ipAddress.optional() }).strict().default({}),
    macFiltered: z
      .object({
        bridge: ifname.default('plumbmf0'),
        /** A physical interface, or a VXLAN segment of its own, so MAC_FILTERED networks span hosts. */
        uplink: macFilteredUplinkSchema.optional(),
        mtu: z.number().int().min(576).max(9000).default(1500),
      })
      .strict()
      .default({ bridge: 'plumbmf0', mtu: 1500 }),
    /** Default owner of tap devices (the user QEMU runs as). */
    tapOwner: owner.optional(),
    tapGroup: owner.optional(),
  })
  .strict();

/** The envelope is validated as a whole; networks and ports one by one (see validate.ts). */
export const hostStateEnvelopeSchema = z
  .object({
    schemaVersion: z.literal(SCHEMA_VERSION, { error: `only schemaVersion ${SCHEMA_VERSION} is understood` }),
    generation: z.number().int().min(0).default(0),
    host: hostSchema,
    networks: z.array(z.unknown()).default([]),
    ports: z.array(z.unknown()).default([]),
  })
  .strict();

export type Subnet = z.infer<typeof subnetSchema>;
export type HostRoute = z.infer<typeof hostRoute>;
export type Network = z.infer<typeof networkSchema>;
export type VlanNetwork = z.infer<typeof vlanNetworkSchema>;
export type VxlanNetwork = z.infer<typeof vxlanNetworkSchema>;
export type MacFilteredNetwork = z.infer<typeof macFilteredNetworkSchema>;
export type RoutedNetwork = z.infer<typeof routedNetworkSchema>;
export type CustomNetwork = z.infer<typeof customNetworkSchema>;
export type Port = z.infer<typeof portSchema>;
export type HostInfo = z.infer<typeof hostSchema>;

/** A host's desired state after validation: only accepted objects remain. */
export interface HostState {
  schemaVersion: typeof SCHEMA_VERSION;
  generation: number;
  host: HostInfo;
  networks: Network[];
  ports: Port[];
}

/** What the controller writes: the same shape, before defaults are applied. */
export type HostStateInput = z.input<typeof hostStateEnvelopeSchema> & {
  networks?: z.input<typeof networkSchema>[];
  ports?: z.input<typeof portSchema>[];
};
