// Controller configuration (YAML), validated with errors that name the field.
import { z } from 'zod';
import { loadConfiguredFile, parseConfig } from '../util/config-file.js';
import { cidr, ipAddress, ifname, macPrefix } from '../state/schema.js';
import { NETNS_PATTERN } from '../state/netns-allow.js';
import { natsUrls } from '../state/nats-url.js';

const pool = z.object({ start: ipAddress, end: ipAddress }).strict();
const subnetConfig = z
  .object({ cidr, gateway: ipAddress.optional(), allocationPools: z.array(pool).default([]), dns: z.array(ipAddress).default([]) })
  .strict();

export const controllerConfigSchema = z
  .object({
    listen: z.string().regex(/^[^:]+:\d+$/, 'host:port').default('127.0.0.1:9696'),
    /** the SQLite file (the embedded default); `store` instead selects the store explicitly */
    database: z.string().min(1).optional(),
    store: z
      .discriminatedUnion('type', [
        z.object({ type: z.literal('sqlite'), path: z.string().min(1) }).strict(),
        z
          .object({
            type: z.literal('postgresql'),
            url: z.string().regex(/^postgres(ql)?:\/\/.+/, 'a postgresql:// URL'),
            /** connections per controller instance */
            poolSize: z.number().int().min(1).max(500).default(16),
          })
          .strict(),
      ])
      .optional(),
    auth: z.enum(['basic', 'none']).default('basic'),
    /** failed logins allowed per user name and per source address within the window; then 429 */
    loginLimit: z.object({ failures: z.number().int().min(1).default(10), windowSeconds: z.number().int().min(1).max(86_400).default(60) }).strict().default({ failures: 10, windowSeconds: 60 }),
    /** API request bodies above this many bytes are refused (413) before they are read */
    maxBodyBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(1024 * 1024),
    nats: z
      .object({
        /** one node, or every node of a cluster */
        url: natsUrls,
        seedFile: z.string().min(1),
        /** copies of the desired-state bucket: 3 on a three-node cluster (any one node may die) */
        replicas: z.union([z.literal(1), z.literal(3), z.literal(5)], { error: 'the bucket\'s replicas: 1, 3 or 5' }).default(1),
      })
      .strict()
      .optional(),
    macPrefix: macPrefix.default('aa:00:00'),
    heartbeatTimeoutSeconds: z.number().min(1).default(15),
    /** Prometheus endpoint, e.g. 127.0.0.1:9102 */
    metrics: z.object({ listen: z.string().regex(/^[^:]+:\d+$/, 'host:port') }).strict().optional(),
    privateNetworks: z
      .object({
        defaultType: z.enum(['MAC_FILTERED', 'VXLAN', 'PHYSICAL_VLAN']).default('MAC_FILTERED'),
        enabledTypes: z.array(z.enum(['MAC_FILTERED', 'VXLAN', 'PHYSICAL_VLAN'])).default(['MAC_FILTERED']),
        cidrRange: cidr.default('192.168.0.0/16'),
        vniRange: z.tuple([z.number().int().min(1), z.number().int().max(0xffffff)]).default([5000, 5999]),
        vlanRange: z.tuple([z.number().int().min(1), z.number().int().max(4094)]).default([100, 199]),
        macPrefixPool: z.string().regex(/^[0-9a-f]{2}$/, 'one hex octet').default('aa'),
      })
      .strict()
      .default({ defaultType: 'MAC_FILTERED', enabledTypes: ['MAC_FILTERED'], cidrRange: '192.168.0.0/16', vniRange: [5000, 5999], vlanRange: [100, 199], macPrefixPool: 'aa' }),
    /** How ports are plugged on hosts: taps for QEMU/KVM, or veths into per-device namespaces (the lab). */
    portBinding: z
      .union([z.object({ kind: z.literal('tap') }).strict(), z.object({ kind: z.literal('veth'), /** {device_id}, and {project} to keep projects' devices of one id apart */ netnsTemplate: z.string().includes('{device_id}') }).strict()])
      .default({ kind: 'tap' }),
    /** What binding:profile may name: the namespaces a veth's peer may go into ('*' matches any run). */
    bindingProfile: z.object({ netnsAllowed: z.array(z.string().regex(NETNS_PATTERN, "a namespace name, '*' for any run of characters")).default([]) }).strict().default({ netnsAllowed: [] }),
    hosts: z
      .object({
        defaults: z
          .object({ underlayDevice: ifname.optional(), vlanTrunk: ifname.optional(), macFiltered: z.object({ bridge: ifname.default('plumbmf0'), uplink: ifname.optional() }).strict().default({ bridge: 'plumbmf0' }), tapOwner: z.union([z.string(), z.number()]).optional() })
          .strict()
          .default({ macFiltered: { bridge: 'plumbmf0' } }),
      })
      .strict()
      .default({ defaults: { macFiltered: { bridge: 'plumbmf0' } } }),
    publicNetworks: z.array(z.object({ name: z.string().min(1), uplink: ifname, routingTable: z.number().int().min(1).max(252), subnets: z.array(subnetConfig).min(1) }).strict()).default([]),
    users: z
      .array(
        z
          .object({
            name: z.string().min(1),
            /** scrypt hash from `plumb controller hash-password` */
            passwordHash: z.string().regex(/^scrypt\$[0-9a-f]+\$[0-9a-f]+$/, 'not a hash from plumb controller hash-password').optional(),
            /** plain text, for labs only */
            password: z.string().min(1).optional(),
            project: z.string().min(1),
            /** admin: the operator; service: the VM manager, which binds ports to hosts (docs/api.md) */
            roles: z.array(z.enum(['admin', 'service'], { error: (iss) => `'${String(iss.input)}' is not a role (admin, service)` })).default([]),
          })
          .strict()
          .refine((u) => (u.password === undefined) !== (u.passwordHash === undefined), { message: 'give exactly one of password or passwordHash', path: ['passwordHash'] }),
      )
      .default([]),
    quotas: z
      .object({ networks: z.number().int().min(0).default(10), floatingIps: z.number().int().min(0).default(3), devicesPerNetwork: z.number().int().min(1).default(250), nicsPerDevice: z.number().int().min(1).default(15) })
      .strict()
      .default({ networks: 10, floatingIps: 3, devicesPerNetwork: 250, nicsPerDevice: 15 }),
  })
  .strict()
  .refine((c) => c.database === undefined || c.store === undefined, { message: 'give either database (a SQLite file) or store, not both', path: ['store'] });

export type ControllerConfig = z.infer<typeof controllerConfigSchema>;

export type StoreConfig = NonNullable<ControllerConfig['store']>;

export const DEFAULT_DATABASE = '/var/lib/plumb/controller.db';

/** The store the config selects: `store`, or the SQLite file `database` (or its default). */
export function storeConfig(cfg: ControllerConfig): StoreConfig {
  return cfg.store ?? { type: 'sqlite', path: cfg.database ?? DEFAULT_DATABASE };
}

export function parseControllerConfig(raw: unknown): ControllerConfig {
  return parseConfig(controllerConfigSchema, raw);
}

export function loadControllerConfig(path: string): ControllerConfig {
  return loadConfiguredFile(controllerConfigSchema, path, 'controller config');
}
