// Issue 26's property: random sequences of API calls by two projects, the admin and the VM
// manager (service role), over real HTTP. After every call:
// - nothing of one project changed because of another's call (the admin may change anything;
//   the service changes only the project it acts for);
// - each project's usage (quota details) equals what its own objects hold;
// - no response to a project holds another project's objects, names or CIDRs (a CIDR the caller
//   sent itself may come back, e.g. in a 409);
// - every host's desired state validates with nothing rejected under the agent's allow-list,
//   so it holds only canonical addresses and allowed namespaces.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningController } from '../../src/controller/server.js';
import { validateHostState } from '../../src/state/validate.js';
import { canonicalCidrOf } from '../../src/util/ip.js';
import { ALICE, caller, testController } from './fixture.js';

const BOB = 'other-project';
type Who = 'alice' | 'bob' | 'admin' | 'nova';
const CREDS: Record<Who, [string, string]> = { alice: ['alice', 'pw-a'], bob: ['bob', 'pw-b'], admin: ['admin', 'a'], nova: ['nova', 'pw-n'] };
const PROJECT_OF: Partial<Record<Who, string>> = { alice: ALICE, bob: BOB };
const TAG: Record<string, string> = { [ALICE]: 'A', [BOB]: 'B' };
const HOSTS = ['h1', 'h2'];

let ctl: RunningController;
let calls: Record<Who, ReturnType<typeof caller>>;

beforeAll(async () => {
  ctl = await testController({
    quotas: { networks: 4, floatingIps: 2, nicsPerDevice: 3 },
    publicNetworks: [{ name: 'public', uplink: 'pub0', routingTable: 100, subnets: [{ cidr: '192.168.3.0/24', gateway: '192.168.3.1', allocationPools: [{ start: '192.168.3.5', end: '192.168.3.30' }] }, { cidr: '2001:db8:100::/64', gateway: '2001:db8:100::1' }] }],
  });
  calls = { alice: caller(ctl.url, ...CREDS.alice), bob: caller(ctl.url, ...CREDS.bob), admin: caller(ctl.url, ...CREDS.admin), nova: caller(ctl.url, ...CREDS.nova) };
});
afterAll(async () => ctl?.close());

/** What a project holds, as the store has it: compared before and after each call. */
async function holdings(project: string): Promise<string> {
  return ctl.service.store.read(async (r) => {
    const nets = (await r.networks(undefined)).filter((n) => n.project === project);
    const subnets = (await r.subnets()).filter((s) => s.project === project);
    const ports = (await r.ports(undefined)).filter((p) => p.project === project);
    const ips = await r.fixedIpsOf(ports.map((p) => p.id));
    const fips = (await r.floatingIps(undefined)).filter((f) => f.project === project);
    return JSON.stringify({ nets, subnets, ports: ports.map((p) => ({ ...p, ips: ips.get(p.id) ?? [] })), fips });
  });
}

/** Names and CIDRs of a project: its networks are named <tag>-..., its CIDRs are its subnets'. */
async function secrets(project: string): Promise<string[]> {
  return ctl.service.store.read(async (r) => [...(await r.networks(undefined)).filter((n) => n.project === project).map((n) => n.name), ...(await r.subnets()).filter((s) => s.project === project).map((s) => s.cidr)]);
}

/** Every object in a response carrying a project must be the caller's (or public: ''). */
function foreignObjects(value: unknown, project: string, out: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) foreignObjects(v, project, out);
  else if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    for (const k of ['project_id', 'tenant_id']) if (typeof o[k] === 'string' && o[k] !== '' && o[k] !== project) out.push(`${k} ${String(o[k])} in ${JSON.stringify(o).slice(0, 120)}`);
    for (const v of Object.values(o)) foreignObjects(v, project, out);
  }
  return out;
}

interface Call {
  who: Who;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  body?: unknown;
  /** the projects whose objects this call may change: a member's own; the VM manager's target */
  actsFor: string[];
}

// each op picks its targets among the objects that exist when it runs (pick is an index)
type Ids = { networks: string[]; subnets: string[]; ports: string[]; fips: string[]; portProject: Map<string, string> };
type Op = (pick: number, ids: Ids) => Call;
const own = (who: Who): string[] => (PROJECT_OF[who] ? [PROJECT_OF[who] as string] : []);

const member = fc.constantFrom<Who>('alice', 'bob');
const cidrFor = (tag: string, n: number): string => `10.${tag === 'A' ? 40 : 41}.${n}.0/24`;
const spelling = fc.constantFrom((c: string) => c, (c: string) => c.replace(/\/(\d+)$/, '/0$1'), (c: string) => c.toUpperCase());
const v6For = (tag: string, n: number): string => `fd00:${tag === 'A' ? 'a' : 'b'}:${n}::/64`;
const at = <T>(xs: readonly T[], i: number): T | undefined => (xs.length ? xs[i % xs.length] : undefined);

const opArb: fc.Arbitrary<Op> = fc.oneof(
  // a network, with a CIDR in its project's range (which the other project may try as well)
  fc.tuple(member, fc.constantFrom('A', 'B'), fc.integer({ min: 0, max: 5 }), spelling).map(([who, tag, n, spell]): Op => () => {
    const me = TAG[PROJECT_OF[who] as string] as string;
    return { who, method: 'POST', path: '/v2.0/networks', body: { network: { name: `${me}-net-${n}`, cidr: spell(cidrFor(tag, n)) } }, actsFor: own(who) };
  }),
  // an IPv6 subnet on some network (its own or not), spelled oddly
  fc.tuple(member, fc.constantFrom('A', 'B'), fc.integer({ min: 0, max: 3 }), spelling).map(([who, tag, n, spell]): Op => (pick, ids) => ({
    who,
    method: 'POST',
    path: '/v2.0/subnets',
    body: { subnet: { network_id: at(ids.networks, pick) ?? '1', cidr: spell(v6For(tag, n)) } },
    actsFor: own(who),
  })),
  // a port: on a network, maybe public, maybe with a subnet, a device shared by name across projects
  fc.tuple(member, fc.constantFrom('vm1', 'vm2', ''), fc.boolean(), fc.boolean()).map(([who, device, pub, bySubnet]): Op => (pick, ids) => ({
    who,
    method: 'POST',
    path: '/v2.0/ports',
    body: { port: { network_id: pub ? '1' : (at(ids.networks, pick) ?? '1'), ...(device ? { device_id: device } : {}), ...(bySubnet && ids.subnets.length ? { fixed_ips: [{ subnet_id: at(ids.subnets, pick) }] } : {}) } },
    actsFor: own(who),
  })),
  // a project member trying the binding attributes
  fc.tuple(member, fc.constantFrom('binding:host_id', 'binding:profile', 'project_id')).map(([who, attr]): Op => (pick, ids) => ({
    who,
    method: 'POST',
    path: '/v2.0/ports',
    body: { port: { network_id: at(ids.networks, pick) ?? '1', ...(attr === 'binding:host_id' ? { [attr]: 'h1' } : attr === 'binding:profile' ? { [attr]: { kind: 'veth', netns: 'vm-x' } } : { [attr]: attr === 'project_id' && who === 'alice' ? BOB : ALICE }) } },
    actsFor: own(who),
  })),
  // the VM manager binding a port for a project, sometimes into a namespace off the allow-list
  fc.tuple(fc.constantFrom(ALICE, BOB), fc.constantFrom('vm1', 'vm2'), fc.constantFrom(...HOSTS), fc.constantFrom('vm-ok', 'init', undefined)).map(([project, device, host, netns]): Op => (pick, ids) => ({
    who: 'nova',
    method: 'POST',
    path: '/v2.0/ports',
    body: { port: { project_id: project, network_id: at(ids.networks, pick) ?? '1', device_id: device, 'binding:host_id': host, ...(netns ? { 'binding:profile': { kind: 'veth', netns } } : {}) } },
    actsFor: [project],
  })),
  // moves and deletes of some port (the caller's or not)
  fc.tuple(fc.constantFrom<Who>('alice', 'bob', 'nova'), fc.constantFrom(...HOSTS)).map(([who, host]): Op => (pick, ids) => {
    const port = at(ids.ports, pick) ?? '0';
    return { who, method: 'PUT', path: `/v2.0/ports/${port}`, body: { port: { 'binding:host_id': host } }, actsFor: who === 'nova' ? [ids.portProject.get(port) ?? ''] : own(who) };
  }),
  member.map((who): Op => (pick, ids) => ({ who, method: 'DELETE', path: `/v2.0/ports/${at(ids.ports, pick) ?? '0'}`, actsFor: own(who) })),
  member.map((who): Op => (pick, ids) => ({ who, method: 'DELETE', path: `/v2.0/networks/${at(ids.networks, pick) ?? '0'}`, actsFor: own(who) })),
  // floating IPs: allocate, attach to a device, detach, release
  member.map((who): Op => () => ({ who, method: 'POST', path: '/v2.0/floatingips', body: { floatingip: {} }, actsFor: own(who) })),
  fc.tuple(member, fc.constantFrom('vm1', 'vm2')).map(([who, device]): Op => (pick, ids) => ({ who, method: 'POST', path: `/v2.0/floatingips/${at(ids.fips, pick) ?? '0'}/attach`, body: { device_id: device }, actsFor: own(who) })),
  member.map((who): Op => (pick, ids) => ({ who, method: 'PUT', path: `/v2.0/floatingips/${at(ids.fips, pick) ?? '0'}`, body: { floatingip: { port_id: null } }, actsFor: own(who) })),
  member.map((who): Op => (pick, ids) => ({ who, method: 'DELETE', path: `/v2.0/floatingips/${at(ids.fips, pick) ?? '0'}`, actsFor: own(who) })),
  // reads, where a leak would show
  fc.tuple(fc.constantFrom<Who>('alice', 'bob', 'nova'), fc.constantFrom('/v2.0/networks', '/v2.0/subnets', '/v2.0/ports', '/v2.0/floatingips', '/v2.0/agents', '/v2.0/quotas', '/v2.0/ports?device_id=vm1')).map(([who, path]): Op => () => ({ who, method: 'GET', path, actsFor: [] })),
);

async function allIds(): Promise<Ids> {
  return ctl.service.store.read(async (r) => {
    const ports = await r.ports(undefined);
    return {
      networks: (await r.networks(undefined)).map((n) => String(n.id)),
      subnets: (await r.subnets()).map((s) => String(s.id)),
      ports: ports.map((p) => String(p.id)),
      fips: (await r.floatingIps(undefined)).map((f) => String(f.id)),
      portProject: new Map(ports.map((p) => [String(p.id), p.project ?? ''])),
    };
  });
}

async function problemsAfter(call: Call, before: Map<string, string>, status: number, text: string): Promise<string[]> {
  const out: string[] = [];
  if (status >= 500) out.push(`status ${status}: ${text.slice(0, 200)}`);
  // 1. nothing of another project changed
  for (const project of [ALICE, BOB, 'service']) {
    if (!call.actsFor.includes(project) && (await holdings(project)) !== before.get(project)) out.push(`${call.who} changed project ${project}'s objects`);
  }
  // 2. usage equals holdings, for every project
  for (const project of [ALICE, BOB]) {
    const q = (await calls.admin('GET', `/v2.0/quotas/${project}/details`)).body.quota as Record<string, { used: number }>;
    const held = await ctl.service.store.read(async (r) => ({
      network: (await r.networks(undefined)).filter((n) => n.project === project).length,
      subnet: (await r.subnets()).filter((s) => s.project === project).length,
      port: (await r.ports(undefined)).filter((p) => p.project === project).length,
      // every public IPv4 address the project's ports hold, and every one it reserved unattached
      floatingip: await (async () => {
        const ports = (await r.ports(undefined)).filter((p) => p.project === project && p.network_id === 1);
        const held = [...(await r.fixedIpsOf(ports.map((p) => p.id))).values()].flat().filter((f) => !f.ip.includes(':')).length;
        return held + (await r.floatingIps(undefined)).filter((f) => f.project === project && f.port_id === null).length;
      })(),
    }));
    for (const [k, n] of Object.entries(held)) if (q[k]?.used !== n) out.push(`project ${project}: ${k} usage ${q[k]?.used} but it holds ${n}`);
  }
  // 3. no response to a project holds another's objects, names or CIDRs
  const mine = PROJECT_OF[call.who];
  if (mine) {
    let parsed: unknown = undefined;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* empty body (204) */
    }
    out.push(...foreignObjects(parsed, mine));
    // what the caller sent, with its CIDRs also in canonical form (the answer may echo them)
    const body = call.body as { network?: { cidr?: string }; subnet?: { cidr?: string } } | undefined;
    const cidr = body?.network?.cidr ?? body?.subnet?.cidr;
    const sent = `${JSON.stringify(call.body ?? '')} ${cidr ? (canonicalCidrOf(cidr) ?? '') : ''}`.toLowerCase();
    for (const project of [ALICE, BOB].filter((p) => p !== mine)) {
      for (const s of await secrets(project)) if (text.toLowerCase().includes(s.toLowerCase()) && !sent.includes(s.toLowerCase())) out.push(`the answer to ${call.who} holds ${project}'s ${s}`);
    }
  }
  // 4. every host's desired state is canonical and within its allow-list
  for (const host of HOSTS) {
    const v = validateHostState(await ctl.hooks.desiredState(host), { netnsAllowed: ['vm-*'] });
    if (v.rejections.length) out.push(`${host}'s desired state has rejections: ${JSON.stringify(v.rejections).slice(0, 300)}`);
  }
  return out;
}

describe('projects stay apart under any sequence of calls (issue 26)', () => {
  it('after every call of two projects, the admin and the VM manager: no cross-project change, exact usage, no leak, canonical host state', async () => {
    const statuses = new Map<number, number>();
    let total = 0;
    const started = Date.now();
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(opArb, fc.nat()), { minLength: 1, maxLength: 25 }), async (ops) => {
        for (const [op, pick] of ops) {
          const call = op(pick, await allIds());
          const before = new Map<string, string>();
          for (const project of [ALICE, BOB, 'service']) before.set(project, await holdings(project));
          const res = await fetch(`${ctl.url}${call.path}`, {
            method: call.method,
            headers: { authorization: `Basic ${Buffer.from(CREDS[call.who].join(':')).toString('base64')}`, 'content-type': 'application/json' },
            ...(call.body === undefined ? {} : { body: JSON.stringify(call.body) }),
          });
          const text = await res.text();
          total++;
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          const problems = await problemsAfter(call, before, res.status, text);
          if (problems.length) throw new Error(`${call.who} ${call.method} ${call.path} ${JSON.stringify(call.body ?? '')} -> ${res.status}: ${problems.join('; ')}`);
        }
      }),
      // state carries over between runs: report the first failure as it happened
      { seed: 26, numRuns: 200, endOnFailure: true },
    );
    const tally = [...statuses.entries()].sort(([a], [b]) => a - b).map(([s, n]) => `${s}: ${n}`).join(', ');
    console.log(`projects property: ${total} calls in ${Date.now() - started} ms (${tally})`);
    // the sequences reached the service: objects made, and bad intent refused
    expect(statuses.get(201) ?? 0).toBeGreaterThan(40);
    expect(statuses.get(403) ?? 0).toBeGreaterThan(10);
  }, 300_000);
});
