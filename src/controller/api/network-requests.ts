// POST /v2.0/networks: what a client may say about a new network.
import { z } from 'zod';
import { adminUp, bool, cidr, name, object, text } from './fields.js';

export const NETWORK_TYPES = ['MAC_FILTERED', 'VXLAN', 'PHYSICAL_VLAN'] as const;
export type NetworkType = (typeof NETWORK_TYPES)[number];

const networkType = text(32).transform((t, ctx) => {
  const up = t.toUpperCase();
  if ((NETWORK_TYPES as readonly string[]).includes(up)) return up as NetworkType;
  ctx.addIssue({ code: 'custom', message: `'${t}' is not MAC_FILTERED, VXLAN or PHYSICAL_VLAN` });
  return z.NEVER;
});

export const createNetworkFields = object({
  name: name.optional(),
  /** plumb's (kamaki's) name for the network type */
  type: networkType.optional(),
  'provider:network_type': networkType.optional(),
  /** kamaki-style: the network's subnet in the same request (else the next free /24) */
  cidr: cidr.optional(),
  'router:external': bool.optional(),
  admin_state_up: adminUp.optional(),
  shared: bool.refine((v) => !v, 'true is not supported: private networks belong to one project').optional(),
});
export const createNetworkRequest = createNetworkFields.transform((b) => ({
  name: b.name ?? '',
  type: b.type ?? b['provider:network_type'],
  cidr: b.cidr,
  external: b['router:external'] === true,
}));

export type CreateNetworkRequest = z.output<typeof createNetworkRequest>;
