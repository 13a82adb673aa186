// POST /v2.0/subnets: a subnet's shape. Whether it fits (inside its pools, no overlap with the
// network's other subnets) is checked by the service and the store, which know the neighbours.
import { z } from 'zod';
import { adminUp, bool, cidr, ipAddress, list, name, object, ref } from './fields.js';

const pool = object({ start: ipAddress, end: ipAddress });
const route = object({ destination: cidr, nexthop: ipAddress });

export const createSubnetRequest = object({
  network_id: ref,
  cidr,
  name: name.optional(),
  ip_version: z.union([z.literal(4), z.literal(6)], { error: (iss) => (iss.input === undefined ? 'is required' : 'must be 4 or 6') }).optional(),
  /** absent: the subnet's first address, as Neutron; null: no gateway */
  gateway_ip: ipAddress.nullable().optional(),
  allocation_pools: list(pool, 64).optional(),
  // Neutron's defaults for max_dns_nameservers and max_subnet_host_routes
  dns_nameservers: list(ipAddress, 5).optional(),
  host_routes: list(route, 20).optional(),
  enable_dhcp: bool.optional(),
  admin_state_up: adminUp.optional(),
});

export type CreateSubnetRequest = z.output<typeof createSubnetRequest>;

/** Subnets are immutable; every attribute named in an update is refused by name. */
export const updateSubnetRequest = z.record(z.string(), z.unknown());
