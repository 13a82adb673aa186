// Validation of a host's desired state. The envelope (version, host section) is all or
// nothing: without it nothing can be applied, so the caller keeps the kernel as it is. Networks
// and ports are judged one by one: a rejected object is reported with the field and the reason,
// left untouched in the kernel ("frozen"), and every other object still converges.
import { z } from 'zod';
import { ValidationError } from '../util/errors.js';
import { cidrContains, family, networkAddress, normalizeAddress, parseCidr } from '../util/ip.js';
import { netnsAllowed } from './netns-allow.js';
import { bridgeName, portIfname, vlanName, vxlanName, MAC_FILTERED_VXLAN_NAME } from './names.js';
import {
  hostStateEnvelopeSchema,
  networkSchema,
  portSchema,
  type HostState,
  type Network,
  type Port,
} from './schema.js';

export interface Rejection {
  kind: 'network' | 'port';
  /** The object's id when it could be read, else undefined. */
  id: string | undefined;
  /** Dotted path into the state document, e.g. `ports[3].mac`. */
  field: string;
  reason: string;
}

export interface ValidatedState {
  state: HostState;
  rejections: Rejection[];
  /** Ids whose kernel objects must be neither changed nor deleted this pass. */
  frozenNetworks: Set<string>;
  frozenPorts: Set<string>;
}

/** The envelope is unusable; nothing from this document may be applied. */
export class StateValidationError extends ValidationError {}

function pathOf(prefix: string, path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, k) => (typeof k === 'number' ? `${acc}[${k}]` : `${acc}.${String(k)}`), prefix);
}

function firstIssue(prefix: string, err: z.ZodError): { field: string; reason: string } {
  const issue = err.issues[0];
  if (!issue) return { field: prefix, reason: 'invalid' };
  return { field: pathOf(prefix, issue.path), reason: issue.message };
}

function readId(raw: unknown): string | undefined {
  if (raw && typeof raw === 'object' && 'id' in raw && typeof (raw as { id: unknown }).id === 'string') {
    return (raw as { id: string }).id;
  }
  return undefined;
}

export interface ValidateOptions {
  /** The host's allow-list for veth peers' namespaces (agent config veth.netnsAllowed); undefined: any. */
  netnsAllowed?: readonly string[];
}

export function validateHostState(input: unknown, opts: ValidateOptions = {}): ValidatedState {
  const env = hostStateEnvelopeSchema.safeParse(input);
  if (!env.success) {
    const { field, reason } = firstIssue('state', env.error);
    throw new StateValidationError(field, reason);
  }
  const { host } = env.data;
  const rejections: Rejection[] = [];
  const frozenNetworks = new Set<string>();
  const frozenPorts = new Set<string>();
  const reject = (r: Rejection): void => {
    rejections.push(r);
    if (r.id === undefined) return;
    (r.kind === 'network' ? frozenNetworks : frozenPorts).add(r.id);
  };

  const networks = validateNetworks(env.data.networks, host, reject);
  const byId = new Map(networks.map((n) => [n.id, n]));
  const ports = validatePorts(env.data.ports, byId, frozenNetworks, networks, host, reject, opts);

  return {
    state: { schemaVersion: 1, generation: env.data.generation, host, networks, ports },
    rejections,
    frozenNetworks,
    frozenPorts,
  };
}

/** Parse a document and fail on the first rejection: for the CLI's `--strict` and for tests. */
export function parseHostStateStrict(input: unknown): HostState {
  const v = validateHostState(input);
  const r = v.rejections[0];
  if (r) throw new ValidationError(r.field, r.reason);
  return v.state;
}

function subnetProblem(net: Network): { field: string; reason: string } | undefined {
  for (const [i, s] of net.subnets.entries()) {
    const f = `subnets[${i}]`;
    const { family: fam, prefix } = parseCidr(s.cidr);
    if (networkAddress(s.cidr) !== parseCidr(s.cidr).address) {
      return { field: `${f}.cidr`, reason: `host bits are set; the network is ${networkAddress(s.cidr)}/${prefix}` };
    }
    if (s.gateway !== undefined && !cidrContains(s.cidr, s.gateway)) {
      return { field: `${f}.gateway`, reason: `${s.gateway} is outside ${s.cidr}` };
    }
    for (const [j, r] of s.routes.entries()) {
      if (family(r.nexthop) !== fam || parseCidr(r.destination).family !== fam) {
        return { field: `${f}.routes[${j}]`, reason: `route family does not match the subnet's IPv${fam}` };
      }
    }
  }
  return undefined;
}

function validateNetworks(
  raws: unknown[],
  host: HostState['host'],
  reject: (r: Rejection) => void,
): Network[] {
  const accepted: Network[] = [];
  const ids = new Set<string>();
  const vlanOwners = new Map<string, string>(); // `${uplink}.${vid}` -> network id
  const vniOwners = new Map<number, string>();
  const prefixOwners = new Map<string, string>();
  const tableOwners = new Map<number, string>();
  const deviceOwners = new Map<string, string>(); // derived device name -> network id
  const mfVni = typeof host.macFiltered.uplink === 'object' ? host.macFiltered.uplink.vxlan.vni : undefined;

  raws.forEach((raw, i) => {
    const at = `networks[${i}]`;
    const id = readId(raw);
    const parsed = parseCached(networkSchema, raw);
    if (!parsed.success) {
      const { field, reason } = firstIssue(at, parsed.error);
      reject({ kind: 'network', id, field, reason });
      return;
    }
    const net = parsed.data;
    const fail = (field: string, reason: string): void => reject({ kind: 'network', id: net.id, field: `${at}.${field}`, reason });

    if (ids.has(net.id)) return fail('id', `duplicate network id '${net.id}'`);
    const sp = subnetProblem(net);
    if (sp) return fail(sp.field, sp.reason);

    const devices: string[] = [];
    if (net.type === 'PHYSICAL_VLAN') {
      const key = `${net.uplink}.${net.segmentId}`;
      const other = vlanOwners.get(key);
      if (other) return fail('segmentId', `VLAN ${net.segmentId} on uplink ${net.uplink} is already used by network '${other}'`);
      const sub = vlanName(net.uplink, net.segmentId);
      if (Buffer.byteLength(sub) > 15) return fail('uplink', `subinterface name '${sub}' exceeds 15 bytes`);
      devices.push(sub, bridgeName(net, host));
    } else if (net.type === 'VXLAN') {
      const other = vniOwners.get(net.segmentId);
      if (other || net.segmentId === mfVni) {
        return fail('segmentId', `VNI ${net.segmentId} is already used by ${other ? `network '${other}'` : 'the MAC_FILTERED uplink'}`);
      }
      if (!(net.localAddress ?? host.underlay.address)) return fail('localAddress', 'no local VTEP address: set it or host.underlay.address');
      if (!(net.uplink ?? host.underlay.device)) return fail('uplink', 'no underlay device: set it or host.underlay.device');
      devices.push(vxlanName(net.id), bridgeName(net, host));
    } else if (net.type === 'MAC_FILTERED') {
      const other = [...prefixOwners.entries()].find(([p]) => p.startsWith(net.macPrefix) || net.macPrefix.startsWith(p));
      if (other) return fail('macPrefix', `MAC prefix ${net.macPrefix} overlaps network '${other[1]}' (${other[0]})`);
    } else if (net.type === 'IP_LESS_ROUTED') {
      const other = tableOwners.get(net.routingTable);
      if (other) return fail('routingTable', `routing table ${net.routingTable} is already used by network '${other}'`);
    }
    for (const d of devices) {
      const other = deviceOwners.get(d);
      if (other) return fail('id', `derived device name '${d}' collides with network '${other}'`);
    }

    ids.add(net.id);
    if (net.type === 'PHYSICAL_VLAN') vlanOwners.set(`${net.uplink}.${net.segmentId}`, net.id);
    if (net.type === 'VXLAN') vniOwners.set(net.segmentId, net.id);
    if (net.type === 'MAC_FILTERED') prefixOwners.set(net.macPrefix, net.id);
    if (net.type === 'IP_LESS_ROUTED') tableOwners.set(net.routingTable, net.id);
    for (const d of devices) deviceOwners.set(d, net.id);
    accepted.push(net);
  });
  return accepted;
}

function validatePorts(
  raws: unknown[],
  networks: Map<string, Network>,
  rejectedNetworks: Set<string>,
  networkList: Network[],
  host: HostState['host'],
  reject: (r: Rejection) => void,
  opts: ValidateOptions,
): Port[] {
  const accepted: Port[] = [];
  const ids = new Set<string>();
  const macs = new Map<string, string>(); // `${network}|${mac}` -> port id
  const addrs = new Map<string, string>(); // `${network}|${addr}` -> port id
  const ifnames = new Map<string, string>(); // ifname -> owner description
  for (const n of networkList) {
    const b = bridgeName(n, host);
    if (b && n.type !== 'CUSTOM') ifnames.set(b, `bridge of network '${n.id}'`);
    if (n.type === 'VXLAN') ifnames.set(vxlanName(n.id), `vxlan of network '${n.id}'`);
    if (n.type === 'PHYSICAL_VLAN') ifnames.set(vlanName(n.uplink, n.segmentId), `VLAN of network '${n.id}'`);
  }
  ifnames.set(host.macFiltered.bridge, 'the MAC_FILTERED bridge');
  if (typeof host.macFiltered.uplink === 'object') ifnames.set(MAC_FILTERED_VXLAN_NAME, 'the MAC_FILTERED vxlan');

  raws.forEach((raw, i) => {
    const at = `ports[${i}]`;
    const id = readId(raw);
    const parsed = parseCached(portSchema, raw);
    if (!parsed.success) {
      const { field, reason } = firstIssue(at, parsed.error);
      reject({ kind: 'port', id, field, reason });
      return;
    }
    const port = parsed.data;
    const fail = (field: string, reason: string): void => reject({ kind: 'port', id: port.id, field: `${at}.${field}`, reason });

    if (ids.has(port.id)) return fail('id', `duplicate port id '${port.id}'`);
    const net = networks.get(port.network);
    if (!net) {
      return fail('network', rejectedNetworks.has(port.network) ? `network '${port.network}' was rejected` : `unknown network '${port.network}'`);
    }
    const facts = portFacts(port, net);
    if (facts.fail) return fail(facts.fail.field, facts.fail.reason);
    const allowed = opts.netnsAllowed;
    if (allowed && port.veth && !netnsAllowed(allowed, port.veth.netns)) {
      return fail('veth.netns', `'${port.veth.netns}' is not in this host's veth.netnsAllowed (${allowed.length ? allowed.join(', ') : 'empty: no veth ports here'})`);
    }
    for (const [j, a] of facts.addresses.entries()) {
      if (a.fail) return fail(`addresses[${j}]`, a.fail);
      const other = addrs.get(a.key);
      if (other) return fail(`addresses[${j}]`, `${port.addresses[j]} is already used by port '${other}' on network '${net.id}'`);
      if (a.twice) return fail(`addresses[${j}]`, `${port.addresses[j]} is listed twice`);
    }
    const macOwner = macs.get(facts.macKey);
    if (macOwner) return fail('mac', `${port.mac} is already used by port '${macOwner}' on network '${net.id}'`);
    const name = facts.name;
    const nameOwner = ifnames.get(name);
    if (nameOwner) return fail(port.ifname ? 'ifname' : 'id', `interface name '${name}' collides with ${nameOwner}`);

    ids.add(port.id);
    macs.set(facts.macKey, port.id);
    for (const a of facts.addresses) addrs.set(a.key, port.id);
    ifnames.set(name, `port '${port.id}'`);
    accepted.push(withAddresses(port, facts.normalized));
  });
  return accepted;
}

/**
 * What validating a port needs that depends on the port and its network alone: the checks of
 * the port by itself, its normalized addresses and the keys the cross-object checks use. Kept
 * per (parsed port, network) object pair, so revalidating 1,000 unchanged ports builds no strings.
 */
interface PortFacts {
  /** the first failing check of the port on its own */
  fail: { field: string; reason: string } | undefined;
  /** per address, in order: its key, or why it fails on its own (cross-object checks come between) */
  addresses: { key: string; fail?: string; twice?: boolean }[];
  normalized: string[];
  macKey: string;
  name: string;
}

const portFactsCache = new WeakMap<Port, { net: Network; facts: PortFacts }>();

function portFacts(port: Port, net: Network): PortFacts {
  const hit = portFactsCache.get(port);
  if (hit && hit.net === net) return hit.facts;
  const facts: PortFacts = { fail: undefined, addresses: [], normalized: [], macKey: `${net.id}|${port.mac}`, name: portIfname(port) };
  const failWith = (field: string, reason: string): PortFacts => ({ ...facts, fail: { field, reason } });
  const computed = ((): PortFacts => {
    if (port.kind === 'veth' && !port.veth) return failWith('veth', 'veth ports need veth.netns (the namespace that receives the peer)');
    if (port.kind === 'tap' && port.veth) return failWith('veth', 'only veth ports take a veth section');
    if (port.kind === 'veth' && port.tap) return failWith('tap', 'only tap ports take a tap section');
    if (net.type === 'MAC_FILTERED' && !port.mac.startsWith(net.macPrefix)) {
      return failWith('mac', `${port.mac} does not carry network '${net.id}''s MAC prefix ${net.macPrefix}`);
    }
    for (const a of port.addresses) {
      const addr = normalizeAddress(a);
      const key = `${net.id}|${addr}`;
      if (net.subnets.length > 0 && !net.subnets.some((s) => cidrContains(s.cidr, addr))) {
        facts.addresses.push({ key, fail: `${a} is outside every subnet of network '${net.id}' (${net.subnets.map((s) => s.cidr).join(', ')})` });
        break;
      }
      if (net.subnets.length === 0 && net.type === 'IP_LESS_ROUTED') {
        facts.addresses.push({ key, fail: `network '${net.id}' has no subnet to route ${a} in` });
        break;
      }
      if (facts.normalized.includes(addr)) {
        facts.addresses.push({ key, twice: true });
        break;
      }
      facts.addresses.push({ key });
      facts.normalized.push(addr);
    }
    return facts;
  })();
  portFactsCache.set(port, { net, facts: computed });
  return computed;
}

// The accepted port is the parsed one with normalized addresses. Handing out the same object
// for an unchanged port, document after document, lets later stages (DHCP bindings) keep
// results per port.
const normalizedPorts = new WeakMap<Port, Port>();

function withAddresses(port: Port, addresses: string[]): Port {
  const prev = normalizedPorts.get(port);
  if (prev && prev.addresses.length === addresses.length && prev.addresses.every((a, i) => a === addresses[i])) return prev;
  const out = { ...port, addresses };
  normalizedPorts.set(port, out);
  return out;
}

// Schema checks of one object depend on that object alone, and a document rebuilt after a
// one-port change shares every other object with the previous one (bus/documents.ts): results
// are kept per raw object, so revalidating 1,000 ports parses one. Only frozen objects qualify
// (a mutable one could change between two calls). Cross-object rules (unique MACs, addresses,
// names) still run over the whole document every time.
const parseResults = new WeakMap<object, WeakMap<z.ZodType, unknown>>();

function parseCached<T extends z.ZodType>(schema: T, raw: unknown): ReturnType<T['safeParse']> {
  if (typeof raw !== 'object' || raw === null || !Object.isFrozen(raw)) return schema.safeParse(raw) as ReturnType<T['safeParse']>;
  let bySchema = parseResults.get(raw);
  if (!bySchema) parseResults.set(raw, (bySchema = new WeakMap()));
  let result = bySchema.get(schema) as ReturnType<T['safeParse']> | undefined;
  if (!result) {
    result = schema.safeParse(raw) as ReturnType<T['safeParse']>;
    bySchema.set(schema, result);
  }
  return result;
}
