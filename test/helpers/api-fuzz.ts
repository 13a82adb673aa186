// Requests for the API fuzz test and benchmark (test/controller/fuzz.test.ts, scripts/fuzz-api.ts),
// generated from the API's own request schemas: every attribute a schema knows gets a plausible
// value (CIDRs and addresses from a small space, so subnets overlap and addresses collide) or,
// now and then, a hostile one (null, wrong type, huge or unicode strings, nested junk); bodies
// sometimes gain unknown attributes or lose required ones; ids are real, missing or badly escaped.
import fc from 'fast-check';
import type { z } from 'zod';
import { attachFloatingIpRequest, createFloatingIpFields, updateFloatingIpFields } from '../../src/controller/api/floating-ip-requests.js';
import { createNetworkFields } from '../../src/controller/api/network-requests.js';
import { createPortFields, updatePortFields } from '../../src/controller/api/port-requests.js';
import { createSubnetRequest } from '../../src/controller/api/subnet-requests.js';

/** The fixture's identities: the operator, two projects and the VM manager (service role). */
export type Who = 'admin' | 'alice' | 'bob' | 'nova';
export interface FuzzRequest {
  who: Who;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  body?: unknown;
}

const octet = fc.integer({ min: 0, max: 255 });
const cidr = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 15 })).map(([b, c]) => `10.${b}.${c * 16}.0/${20 + (c % 5)}`) },
  fc.tuple(fc.integer({ min: 0, max: 3 }), fc.constantFrom(0, 64, 128), fc.integer({ min: 20, max: 30 })).map(([b, c, len]) => `10.${b}.${c}.0/${len}`),
  fc.constantFrom('192.168.1.0/24', '192.168.3.0/24', '192.168.3.128/25', '0.0.0.0/0', '10.0.0.5/24', '10.1.0.0/31', '10.1.0.1/32', 'fd00::/64', 'fd00::/120', '127.0.0.0/8', '224.0.0.0/24', '10.0.0.0/33', '10.0.0.0/-1', '10.0.0.0/ 24', 'junk'),
);
const address = fc.oneof(
  fc.tuple(fc.integer({ min: 0, max: 3 }), octet).map(([b, d]) => `10.${b}.0.${d}`),
  octet.map((d) => `192.168.1.${d}`),
  octet.map((d) => `192.168.3.${d}`),
  fc.integer({ min: 0, max: 0xffff }).map((d) => `fd00::${d.toString(16)}`),
  fc.constantFrom('127.1', '0x7f.0.0.1', 'fe80::1%eth0', '10.0.0.256', '', ' 10.0.0.1', '10.0.0.1/32'),
);
const mac = fc.oneof(fc.constantFrom('aa:00:02:00:00:01', 'AA:00:02:00:00:02', '02:00:00:00:00:01', '01:00:5e:00:00:01', 'zz', 'aa:00:00:00:00'), fc.array(octet, { minLength: 6, maxLength: 6 }).map((o) => o.map((x) => x.toString(16).padStart(2, '0')).join(':')));
const id = fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 1, max: 6 }).map(String) }, { weight: 2, arbitrary: fc.integer({ min: 1, max: 40 }).map(String) }, { weight: 1, arbitrary: fc.constantFrom('0', '999999', 'abc', '', '-1', '1.0', '1e3', '\u{1F525}') });

/** A value no schema accepts where it is put (mostly): the hostile half of the fuzz. */
export const hostile: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', minLength: 300, maxLength: 3000 }),
  fc.constantFrom('%E0%A4%A', '\u0000', '*', '>', '../..', 'a'.repeat(70_000), '{}', '[]'),
  fc.array(fc.oneof(fc.constant(null), fc.integer(), fc.string()), { maxLength: 4 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.constant(null), fc.integer(), fc.string()), { maxKeys: 3 }),
);

/** Plausible values per attribute name; an attribute not listed gets only hostile values. */
const plausible: Record<string, fc.Arbitrary<unknown>> = {
  name: fc.oneof(fc.string({ maxLength: 20 }), fc.string({ unit: 'grapheme', maxLength: 20 })),
  type: fc.constantFrom('MAC_FILTERED', 'VXLAN', 'vxlan', 'PHYSICAL_VLAN', 'FLAT'),
  'provider:network_type': fc.constantFrom('vxlan', 'mac_filtered', 'geneve'),
  cidr,
  'router:external': fc.boolean(),
  admin_state_up: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  shared: fc.boolean(),
  network_id: id,
  subnet_id: id,
  port_id: fc.oneof(id, fc.constant(null)),
  floating_network_id: id,
  ip_version: fc.constantFrom(4, 6, 5, '4'),
  gateway_ip: fc.oneof(address, fc.constant(null)),
  allocation_pools: fc.array(fc.record({ start: address, end: address }), { maxLength: 3 }),
  dns_nameservers: fc.array(address, { maxLength: 6 }),
  host_routes: fc.array(fc.record({ destination: cidr, nexthop: address }), { maxLength: 3 }),
  enable_dhcp: fc.boolean(),
  device_id: fc.oneof(fc.integer({ min: 100, max: 140 }).map(String), fc.constantFrom('', 'vm-1', 'a*b', 'a>b', 'x'.repeat(200))),
  fixed_ips: fc.array(fc.oneof(fc.record({ ip_address: address }), fc.record({ subnet_id: id }), fc.record({ ip_address: address, subnet_id: id })), { maxLength: 3 }),
  mac_address: mac,
  'binding:host_id': fc.constantFrom('h1', 'h2', '', 'h*', 'h.1'),
  'binding:profile': fc.oneof(fc.constant({}), fc.record({ kind: fc.constantFrom('tap', 'veth', 'macvtap') }, { requiredKeys: [] }), fc.record({ kind: fc.constant('veth'), netns: fc.constantFrom('vm-ns', '../x', 'host-ns', 'vm-alice'), peer_name: fc.constantFrom('eth0', 'a-very-long-interface-name') })),
  firewall_profile: fc.constantFrom('DISABLED', 'ENABLED', 'PROTECTED', 'enabled'),
  host: fc.constantFrom('h1', 'h2', 'h/1'),
  project_id: fc.constantFrom('s0m3-u53r-1d', 'other-project', 'service', 'nope'),
  tenant_id: fc.constantFrom('s0m3-u53r-1d', 'other-project'),
};

function keysOf(schema: z.ZodType): string[] {
  return Object.keys((schema as unknown as { shape: Record<string, unknown> }).shape);
}

const isRequired = (schema: z.ZodType, key: string): boolean => {
  const field = (schema as unknown as { shape: Record<string, z.ZodType> }).shape[key];
  return field !== undefined && !field.safeParse(undefined).success;
};

type Mutation = { kind: 'none' } | { kind: 'hostile'; key: string; value: unknown } | { kind: 'unknown'; key: string; value: unknown } | { kind: 'drop'; key: string };

/**
 * A body from a schema's attributes: required ones nearly always, optional ones a quarter of the time,
 * each with a plausible value (which may still be wrong: a junk CIDR, a reversed pool); then, a
 * third of the time, one mutation: an attribute made hostile, an unknown one added, one dropped.
 */
function body(schema: z.ZodType): fc.Arbitrary<Record<string, unknown>> {
  const keys = keysOf(schema);
  const fields = keys.map((k) => {
    const p = plausible[k] ?? hostile;
    const [absent, present] = isRequired(schema, k) ? [1, 19] : [3, 1];
    return fc.oneof({ weight: absent, arbitrary: fc.constant(undefined) }, { weight: present, arbitrary: p }).map((v) => [k, v] as const);
  });
  const mutation: fc.Arbitrary<Mutation> = fc.oneof(
    { weight: 6, arbitrary: fc.constant<Mutation>({ kind: 'none' }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('hostile' as const), key: fc.constantFrom(...keys), value: hostile }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('unknown' as const), key: fc.constantFrom('colour', 'tenant_id', '__proto__', 'constructor', 'id'), value: hostile }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('drop' as const), key: fc.constantFrom(...keys) }) },
  );
  return fc.tuple(fc.tuple(...fields), mutation).map(([entries, m]) => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of entries) if (v !== undefined) out[k] = v;
    if (m.kind === 'hostile' || m.kind === 'unknown') Object.defineProperty(out, m.key, { value: m.value, enumerable: true, configurable: true, writable: true });
    if (m.kind === 'drop') delete out[m.key];
    return out;
  });
}

const wrapped = (key: string, schema: z.ZodType): fc.Arbitrary<unknown> =>
  fc.oneof({ weight: 12, arbitrary: body(schema).map((b) => ({ [key]: b })) }, { weight: 1, arbitrary: hostile }, { weight: 1, arbitrary: body(schema) });

/** An id in a path: usually a plain one, sometimes escaped, badly escaped or odd. */
const pathId = fc.oneof({ weight: 8, arbitrary: id.map(encodeURIComponent) }, { weight: 1, arbitrary: fc.constantFrom('%E0%A4%A', '%', '%zz', '%C0%AF', '..', '%2F', '1;DROP') });

export function requestArbitrary(): fc.Arbitrary<FuzzRequest> {
  const who = fc.constantFrom<Who>('admin', 'alice', 'alice', 'bob', 'nova');
  const req = (method: FuzzRequest['method'], path: fc.Arbitrary<string>, b?: fc.Arbitrary<unknown>): fc.Arbitrary<FuzzRequest> =>
    fc.record({ who, path, ...(b ? { body: b } : {}) }).map((r) => ({ method, ...r }) as FuzzRequest);
  const under = (prefix: string, suffix = '') => pathId.map((i) => `${prefix}/${i}${suffix}`);
  return fc.oneof(
    req('GET', fc.constantFrom('/v2.0/networks', '/v2.0/subnets', '/v2.0/ports', '/v2.0/floatingips', '/v2.0/quotas', '/v3/projects', '/v2.0/agents', '/v2.0/ports?device_id=101', '/v2.0/nope')),
    req('GET', fc.oneof(under('/v2.0/networks'), under('/v2.0/subnets'), under('/v2.0/ports'), under('/v2.0/floatingips'), under('/v2.0/quotas', '/details'), under('/v2.0/plumb/hosts', '/desired-state'))),
    req('POST', fc.constant('/v2.0/networks'), wrapped('network', createNetworkFields)),
    req('POST', fc.constant('/v2.0/subnets'), wrapped('subnet', createSubnetRequest)),
    req('POST', fc.constant('/v2.0/ports'), wrapped('port', createPortFields)),
    req('POST', fc.constant('/v2.0/ports'), wrapped('port', createPortFields)),
    req('PUT', under('/v2.0/ports'), wrapped('port', updatePortFields)),
    req('PUT', under('/v2.0/subnets'), wrapped('subnet', createSubnetRequest)),
    req('POST', fc.constant('/v2.0/floatingips'), wrapped('floatingip', createFloatingIpFields)),
    req('PUT', under('/v2.0/floatingips'), wrapped('floatingip', updateFloatingIpFields)),
    req('POST', under('/v2.0/floatingips', '/attach'), fc.oneof(body(attachFloatingIpRequest), hostile)),
    req('DELETE', fc.oneof(under('/v2.0/networks'), under('/v2.0/subnets'), under('/v2.0/ports'), under('/v2.0/ports'), under('/v2.0/floatingips'))),
  );
}

/** What an answer must look like: never 5xx; a 4xx has a Neutron error, a 400 names its field. */
export function answerProblem(status: number, text: string): string | undefined {
  if (status >= 500) return `status ${status}: ${text.slice(0, 300)}`;
  if (status < 400) return undefined;
  let parsed: { NeutronError?: { type?: unknown; message?: unknown } };
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    return `status ${status} without a JSON error body: ${text.slice(0, 200)}`;
  }
  const e = parsed.NeutronError;
  if (!e || typeof e.type !== 'string' || typeof e.message !== 'string' || e.message === '') return `status ${status} without a Neutron error: ${text.slice(0, 200)}`;
  if (status === 400 && !/^Invalid input for \S.*\. Reason: .+\.$/s.test(e.message)) return `a 400 that names no field: ${e.message.slice(0, 200)}`;
  if (/NaN|\[object Object\]/.test(e.message)) return `a message with NaN or [object Object]: ${e.message.slice(0, 200)}`;
  return undefined;
}
