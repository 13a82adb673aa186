// Real DHCP clients against plumb's responder, on ports the agent built: a routed IP-less port
// and bridged private networks (one without a gateway, one with gateway, DNS, domain, routes). Each client must get exactly its bound configuration; unknown
// MACs and known MACs on another port get no answer at all.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openKernelHandle } from '../../src/kernel/handle.js';
import type { KernelHandle } from '../../src/kernel/types.js';
import { Reconciler } from '../../src/agent/reconciler.js';
import { validateHostState } from '../../src/state/validate.js';
import { startResponder, type Responder } from '../../src/dhcp/responder.js';
import { Netns, ipIn } from '../helpers/netns.js';
import { tempDir, vethBetween } from '../helpers/topology.js';
import { signalPid } from '../../src/util/pid.js';

/** SIGKILL the daemon named in a pid file, if the file holds a pid (an empty one must not become kill(0)). */
function killByPidFile(path: string): void {
  if (existsSync(path)) signalPid(readFileSync(path, 'utf8'), 'SIGKILL');
}

const netns = new Netns();
let host: string, vmR: string, vmB: string, vmX: string, vmI: string, router: string;
let handle: KernelHandle;
let responder: Responder;
const dir = tempDir();
const script = join(dir, 'udhcpc.sh');

function doc(extraPorts: unknown[] = []) {
  return {
    schemaVersion: 1,
    generation: 1,
    host: { name: 'h' },
    networks: [
      { id: 'pub', type: 'IP_LESS_ROUTED', uplink: 'pub0', routingTable: 100, mtu: 1500, domain: 'example.org', subnets: [{ cidr: '203.0.113.0/24', gateway: '203.0.113.1', dns: ['203.0.113.53', '203.0.113.54'], routes: [{ destination: '198.51.100.0/24', nexthop: '203.0.113.1' }], leaseSeconds: 600 }, { cidr: '2001:db8:7::/64', gateway: '2001:db8:7::1', dns: ['2001:db8:7::53'], searchDomains: ['example.org', 'lab.example.org'] }] },
      { id: 'priv', type: 'MAC_FILTERED', macPrefix: 'aa:00:05', mtu: 1400, subnets: [{ cidr: '192.168.5.0/24' }] },
      // a bridged private network with everything a client can be handed (a router VM at .1)
      { id: 'priv2', type: 'MAC_FILTERED', macPrefix: 'aa:00:06', mtu: 1450, domain: 'priv.example', subnets: [{ cidr: '192.168.6.0/24', gateway: '192.168.6.1', dns: ['192.168.6.53'], routes: [{ destination: '10.6.0.0/16', nexthop: '192.168.6.1' }], leaseSeconds: 900 }] },
    ],
    ports: [
      { id: 'r', network: 'pub', mac: 'aa:00:00:00:07:01', addresses: ['203.0.113.7'], kind: 'veth', veth: { netns: vmR }, hostname: 'vm-r' },
      { id: 'b', network: 'priv', mac: 'aa:00:05:00:00:02', addresses: ['192.168.5.2'], kind: 'veth', veth: { netns: vmB }, hostname: 'vm-b' },
      { id: 'x', network: 'priv', mac: 'aa:00:05:00:00:03', addresses: ['192.168.5.3'], kind: 'veth', veth: { netns: vmX } },
      { id: 'i', network: 'priv2', mac: 'aa:00:06:00:00:02', addresses: ['192.168.6.2'], kind: 'veth', veth: { netns: vmI }, hostname: 'vm-i' },
      ...extraPorts,
    ],
  };
}

/** Run a command without blocking the event loop (the responder lives in this process). */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve) => {
    const c = spawn(cmd, args, { env, stdio: 'ignore' });
    const t = setTimeout(() => c.kill(), 20_000);
    c.on('exit', (code) => (clearTimeout(t), resolve(code ?? -1)));
  });
}

/** busybox udhcpc once (-q -n), printing what it was handed; exit status kept. */
async function udhcpc(ns: string, tries = 3, extra: string[] = []): Promise<{ ok: boolean; env: Record<string, string> }> {
  const out = join(dir, `${ns}.env`);
  writeFileSync(out, '');
  const status = await run('ip', ['netns', 'exec', ns, 'busybox', 'udhcpc', '-i', 'eth0', '-n', '-q', '-f', '-t', String(tries), '-T', '1', '-A', '1', '-O', 'staticroutes', '-O', 'search', '-O', 'mtu', ...extra, '-s', script], { ...process.env, OUT: out });
  const r = { status };
  const env: Record<string, string> = {};
  for (const line of readFileSync(out, 'utf8').split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) env[line.slice(0, i)] = line.slice(i + 1);
  }
  return { ok: r.status === 0, env };
}

beforeAll(async () => {
  writeFileSync(script, '#!/bin/sh\nif [ "$1" = bound ]; then for v in ip subnet router dns domain hostname mtu staticroutes lease serverid search broadcast; do eval "echo $v=\\$$v"; done >> "$OUT"; fi\nexit 0\n');
  chmodSync(script, 0o755);
  host = netns.add('pt-dh');
  vmR = netns.add('pt-dvr');
  vmB = netns.add('pt-dvb');
  vmX = netns.add('pt-dvx');
  vmI = netns.add('pt-dvi');
  router = netns.add('pt-drt');
  vethBetween(host, 'pub0', router, 'up0');
  handle = await openKernelHandle({ netns: host });
  const v = validateHostState(doc());
  const res = await new Reconciler(handle).reconcile(v);
  expect(res.failures).toEqual([]);
  for (const vm of [vmR, vmB, vmX, vmI]) ipIn(vm, 'link', 'set', 'eth0', 'up');
  responder = await startResponder({ netns: host });
  responder.update(v.state);
});

afterAll(async () => {
  await responder?.close();
  handle?.close();
  netns.cleanup();
});

describe('DHCPv4 responder with busybox udhcpc', () => {
  it('a VM on a routed IP-less port gets exactly its address, gateway, DNS, routes, MTU, hostname and domain', async () => {
    const r = await udhcpc(vmR);
    expect(r.ok).toBe(true);
    expect(r.env).toMatchObject({ ip: '203.0.113.7', subnet: '255.255.255.0', router: '203.0.113.1', dns: '203.0.113.53 203.0.113.54', domain: 'example.org', hostname: 'vm-r', mtu: '1500', lease: '600', serverid: '203.0.113.1', broadcast: '203.0.113.255' });
    expect(r.env.staticroutes).toBe('198.51.100.0/24 203.0.113.1 0.0.0.0/0 203.0.113.1');
  });

  it('a VM on a bridged private network gets its address and the network MTU', async () => {
    const r = await udhcpc(vmB);
    expect(r.ok).toBe(true);
    expect(r.env).toMatchObject({ ip: '192.168.5.2', subnet: '255.255.255.0', mtu: '1400', hostname: 'vm-b' });
    expect(r.env.router ?? '').toBe('');
  });

  it('an unknown MAC gets no answer at all, and is counted', async () => {
    const before = responder.stats().ignoredUnknownMac;
    ipIn(vmX, 'link', 'set', 'eth0', 'address', 'aa:00:05:00:00:99');
    const r = await udhcpc(vmX, 2);
    expect(r.ok).toBe(false);
    expect(r.env.ip).toBeUndefined();
    expect(responder.stats().ignoredUnknownMac).toBeGreaterThan(before);
  });

  it("a known MAC arriving on another port gets nothing (another VM's identity)", async () => {
    const before = responder.stats().ignoredWrongPort;
    ipIn(vmX, 'link', 'set', 'eth0', 'address', 'aa:00:05:00:00:02'); // vm-b's MAC, on x's port
    const r = await udhcpc(vmX, 2);
    expect(r.ok).toBe(false);
    expect(responder.stats().ignoredWrongPort).toBeGreaterThan(before);
  });

  it('a binding changed while the client is bound: its renewal is refused (NAK) and it binds the new address', async () => {
    // a long-running client that configures its interface, so it renews by unicast to the server
    const cfgScript = join(dir, 'cfg.sh');
    writeFileSync(cfgScript, '#!/bin/sh\ncase "$1" in bound|renew) ip addr flush dev "$interface"; ip addr add "$ip/$mask" dev "$interface"; ip route replace default via "$router" dev "$interface"; echo "$1 $ip" >> "$OUT";; esac\nexit 0\n');
    chmodSync(cfgScript, 0o755);
    const log = join(dir, 'renew.log');
    writeFileSync(log, '');
    const client = spawn('ip', ['netns', 'exec', vmR, 'busybox', 'udhcpc', '-i', 'eth0', '-f', '-t', '5', '-T', '1', '-s', cfgScript], { env: { ...process.env, OUT: log }, stdio: 'ignore' });
    try {
      await waitFor(() => readFileSync(log, 'utf8').includes('bound 203.0.113.7'), 10_000);
      const d = doc();
      (d.ports[0] as { addresses: string[] }).addresses = ['203.0.113.77'];
      responder.update(validateHostState(d).state);
      const naks = responder.stats().naks;
      client.kill('SIGUSR1'); // renew now
      await waitFor(() => readFileSync(log, 'utf8').includes('bound 203.0.113.77'), 15_000);
      expect(responder.stats().naks).toBeGreaterThan(naks);
    } finally {
      client.kill('SIGKILL');
      responder.update(validateHostState(doc()).state);
    }
  });
});

/**
 * Run ISC dhclient or dhcpcd once in `ns` with a hook script that records what it got.
 * `timeoutSeconds`: give up sooner than the clients' defaults (for cases that must get nothing).
 */
async function isc(kind: 'dhclient' | 'dhcpcd', ns: string, timeoutSeconds?: number): Promise<Record<string, string>> {
  const out = join(dir, `${kind}-${ns}.env`);
  writeFileSync(out, '');
  const hook = join(dir, `${kind}-hook.sh`);
  // both clients export new_* variables to their hook on a new lease
  writeFileSync(hook, `#!/bin/sh\ncase "$reason" in BOUND|REBOOT|RENEW) env | grep '^new_' >> "${out}";; esac\nexit 0\n`);
  chmodSync(hook, 0o755);
  // dhclient has no timeout flag: its configuration file (Debian's request list, then the timeout)
  const cf = join(dir, `dhclient-${timeoutSeconds ?? 'default'}.conf`);
  if (kind === 'dhclient' && timeoutSeconds !== undefined) writeFileSync(cf, `option rfc3442-classless-static-routes code 121 = array of unsigned integer 8;\nrequest subnet-mask, broadcast-address, routers, domain-name, domain-name-servers, domain-search, host-name, interface-mtu, rfc3442-classless-static-routes;\ntimeout ${timeoutSeconds};\n`);
  const args =
    kind === 'dhclient'
      ? ['-1', '-4', ...(timeoutSeconds !== undefined ? ['-cf', cf] : []), '-sf', hook, '-lf', join(dir, `${ns}${timeoutSeconds === undefined ? '' : '-t'}.leases`), '-pf', join(dir, `${ns}.pid`), 'eth0']
      : // dhcpcd -B ignores its timeout: a client that must get nothing runs without -B, and exits when it times out
        ['-1', '-4', ...(timeoutSeconds !== undefined ? ['-t', String(timeoutSeconds)] : ['-B', '-t', '10']), '-A', '-c', hook, '--nohook', 'resolv.conf', '-o', 'interface_mtu', '-o', 'classless_static_routes', 'eth0'];
  await run('ip', ['netns', 'exec', ns, kind === 'dhclient' ? '/usr/sbin/dhclient' : '/usr/sbin/dhcpcd', ...args], process.env);
  // dhclient stays behind as a daemon once bound: stop it by its pid file (dhcpcd -1 exits by itself)
  killByPidFile(join(dir, `${ns}.pid`));
  const env: Record<string, string> = {};
  for (const line of readFileSync(out, 'utf8').split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) env[line.slice(0, i)] = line.slice(i + 1).replace(/^'|'$/g, '');
  }
  return env;
}

describe('IPv6 router advertisements', () => {
  it('rdisc6 gets an RA answering its solicitation: prefix with finite lifetimes, MTU, RDNSS, source link-layer address', async () => {
    // earlier clients flushed the interface: cycle it so it has its link-local address again
    ipIn(vmR, 'link', 'set', 'eth0', 'down');
    ipIn(vmR, 'link', 'set', 'eth0', 'up');
    await waitFor(() => /inet6 fe80::/.test(ipIn(vmR, '-6', 'addr', 'show', 'dev', 'eth0')) && !/tentative/.test(ipIn(vmR, '-6', 'addr', 'show', 'dev', 'eth0')), 10_000);
    const before = responder.stats().rsReceived;
    const out: string[] = [];
    await new Promise<void>((resolve) => {
      const c = spawn('ip', ['netns', 'exec', vmR, 'rdisc6', '-1', '-w', '3000', 'eth0'], { stdio: ['ignore', 'pipe', 'pipe'] });
      c.stdout?.on('data', (d: Buffer) => out.push(d.toString()));
      c.on('exit', () => resolve());
    });
    const text = out.join('');
    expect(responder.stats().rsReceived).toBeGreaterThan(before);
    expect(text).toMatch(/Prefix\s+:\s+2001:db8:7::\/64/);
    expect(text).toMatch(/Valid time\s+:\s+86400/);
    expect(text).toMatch(/Pref\. time\s+:\s+14400/);
    expect(text).toMatch(/MTU\s+:\s+1500/);
    expect(text).toMatch(/Recursive DNS server\s+:\s+2001:db8:7::53/);
    expect(text).toMatch(/Source link-layer address:/);
    expect(text).toMatch(/from fe80::/);
  });

  it('the VM forms its SLAAC address from the RA', async () => {
    // bring the link down and up: the kernel solicits, plumb answers, SLAAC follows
    ipIn(vmR, 'link', 'set', 'eth0', 'down');
    ipIn(vmR, 'link', 'set', 'eth0', 'up');
    await waitFor(() => /inet6 2001:db8:7:0:a800:ff:fe00:701\/64/.test(ipIn(vmR, '-6', 'addr', 'show', 'dev', 'eth0')), 15_000);
    expect(ipIn(vmR, '-6', 'route', 'show', 'default')).toMatch(/default via fe80::/);
  }, 30_000);
});

describe('stateless DHCPv6', () => {
  it('an Information-Request (dhclient -6 -S) is answered with the DNS servers and the domain search list', async () => {
    const out = join(dir, 'info6.env');
    writeFileSync(out, '');
    const hook = join(dir, 'info6-hook.sh');
    writeFileSync(hook, `#!/bin/sh\necho "reason=$reason" >> "${out}"\nenv | grep '^new_' >> "${out}"\nexit 0\n`);
    chmodSync(hook, 0o755);
    // dhclient -6 binds to the link-local address: wait until DAD is over
    await waitFor(() => /inet6 fe80::/.test(ipIn(vmR, '-6', 'addr', 'show', 'dev', 'eth0')) && !/tentative/.test(ipIn(vmR, '-6', 'addr', 'show', 'dev', 'eth0')), 10_000);
    const before = responder.stats().dhcpv6Replies;
    await run('sh', ['-c', `ip netns exec ${vmR} /usr/sbin/dhclient -6 -S -1 -v -sf ${hook} -lf ${join(dir, 'info6.leases')} -pf ${join(dir, 'info6.pid')} eth0 > ${join(dir, 'info6.log')} 2>&1`], process.env);
    killByPidFile(join(dir, 'info6.pid'));
    const text = readFileSync(out, 'utf8');
    expect(responder.stats().dhcpv6Replies, readFileSync(join(dir, 'info6.log'), 'utf8')).toBeGreaterThan(before);
    // ISC dhclient runs its script with RENEW6 for a stateless (-S) reply
    expect(text, text).toMatch(/reason=(INFORM6|RENEW6)/);
    expect(text, text).toMatch(/new_dhcp6_name_servers=2001:db8:7::53/);
    expect(text).toMatch(/new_dhcp6_domain_search=example\.org\. lab\.example\.org\./);
  }, 60_000);
});

describe('ISC dhclient and dhcpcd', () => {
  for (const kind of ['dhclient', 'dhcpcd'] as const) {
    it(`${kind} on the routed port gets exactly its address, router, DNS, MTU, domain and static routes`, async () => {
      ipIn(vmR, 'addr', 'flush', 'dev', 'eth0');
      const env = await isc(kind, vmR);
      expect(env.new_ip_address).toBe('203.0.113.7');
      expect(env.new_subnet_mask).toBe('255.255.255.0');
      expect(env.new_routers).toBe('203.0.113.1');
      expect(env.new_domain_name_servers).toBe('203.0.113.53 203.0.113.54');
      expect(env.new_domain_name).toBe('example.org');
      expect(env.new_interface_mtu).toBe('1500');
      const routes = env.new_rfc3442_classless_static_routes ?? env.new_classless_static_routes;
      expect(routes).toMatch(kind === 'dhclient' ? /^24 198 51 100 203 0 113 1 0 203 0 113 1$/ : /^198\.51\.100\.0\/24 203\.0\.113\.1 0\.0\.0\.0\/0 203\.0\.113\.1$/);
    }, 60_000);

    it(`${kind} on a bridged private network gets exactly its address, router, DNS, MTU, hostname, domain and static routes`, async () => {
      const env = await isc(kind, vmI);
      expect(env.new_ip_address, JSON.stringify(env)).toBe('192.168.6.2');
      expect(env.new_subnet_mask).toBe('255.255.255.0');
      expect(env.new_broadcast_address).toBe('192.168.6.255');
      expect(env.new_routers).toBe('192.168.6.1');
      expect(env.new_domain_name_servers).toBe('192.168.6.53');
      expect(env.new_domain_name).toBe('priv.example');
      expect(env.new_host_name).toBe('vm-i');
      expect(env.new_interface_mtu).toBe('1450');
      expect(env.new_dhcp_lease_time).toBe('900');
      expect(env.new_dhcp_server_identifier).toBe('192.168.6.1');
      const routes = env.new_rfc3442_classless_static_routes ?? env.new_classless_static_routes;
      expect(routes).toMatch(kind === 'dhclient' ? /^16 10 6 192 168 6 1 0 192 168 6 1$/ : /^10\.6\.0\.0\/16 192\.168\.6\.1 0\.0\.0\.0\/0 192\.168\.6\.1$/);
    }, 60_000);
  }

  it('neither gets an answer for an unknown MAC on the bridged network, and it is counted', async () => {
    const before = responder.stats().ignoredUnknownMac;
    ipIn(vmI, 'link', 'set', 'eth0', 'address', 'aa:00:06:00:00:99');
    try {
      for (const kind of ['dhclient', 'dhcpcd'] as const) {
        const env = await isc(kind, vmI, 4);
        expect(env.new_ip_address, `${kind} got ${JSON.stringify(env)}`).toBeUndefined();
      }
      expect(responder.stats().ignoredUnknownMac).toBeGreaterThan(before);
    } finally {
      ipIn(vmI, 'link', 'set', 'eth0', 'address', 'aa:00:06:00:00:02');
    }
  }, 60_000);
});

describe('the running responder under garbage', () => {
  it('10,000 random and mutated frames on the wire: it keeps running, counts them, answers none', async () => {
    const { NetnsBinding } = await import('../../src/kernel/netns.js');
    const { FrameSender } = await import('../../src/kernel/announce.js');
    const { buildUdp4 } = await import('../../src/packet/frames.js');
    const { serializeMessage } = await import('../../src/dhcp/codec/message.js');
    const ns = new NetnsBinding(vmX);
    const sender = new FrameSender(ns);
    const ifIndex = Number(/^(\d+):/.exec(ipIn(vmX, '-o', 'link', 'show', 'eth0'))?.[1]);
    const good = serializeMessage({ op: 1, xid: 1, secs: 0, flags: 0x8000, ciaddr: '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: '0.0.0.0', chaddr: 'aa:00:05:00:00:03', options: new Map([[53, Buffer.from([1])]]) });
    const before = responder.stats();
    let seed = 7;
    const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed % n);
    for (let i = 0; i < 10_000; i++) {
      let payload: Buffer;
      if (i % 2) {
        payload = Buffer.alloc(rnd(400));
        for (let k = 0; k < payload.length; k++) payload[k] = rnd(256);
      } else {
        payload = Buffer.from(good.subarray(0, 200 + rnd(40))); // cut inside the fixed header: never valid
        payload[rnd(payload.length)] = rnd(256);
      }
      sender.send(ifIndex, buildUdp4({ srcMac: 'aa:00:05:00:00:03', dstMac: 'ff:ff:ff:ff:ff:ff', srcIp: '0.0.0.0', dstIp: '255.255.255.255', srcPort: 68, dstPort: 67, payload }));
      if (i % 200 === 0) await new Promise((r) => setTimeout(r, 10)); // let the receive loop drain
    }
    await waitFor(() => responder.stats().received - before.received >= 10_000, 30_000).catch(() => undefined);
    expect(responder.stats().received - before.received).toBeGreaterThanOrEqual(10_000);
    sender.close();
    ns.close();
    const after = responder.stats();
    expect(after.answered).toBe(before.answered);
    expect(after.malformed - before.malformed).toBeGreaterThanOrEqual(10_000);
    // and it still serves a real client afterwards
    ipIn(vmX, 'link', 'set', 'eth0', 'address', 'aa:00:05:00:00:03');
    const r = await udhcpc(vmX);
    expect(r.env.ip).toBe('192.168.5.3');
  });
});

describe('what the packet socket takes in', () => {
  it("a DHCP request another socket on the host sends out of a port is not taken for the VM's", async () => {
    const { NetnsBinding } = await import('../../src/kernel/netns.js');
    const { FrameSender } = await import('../../src/kernel/announce.js');
    const { buildUdp4 } = await import('../../src/packet/frames.js');
    const { serializeMessage } = await import('../../src/dhcp/codec/message.js');
    const { portIfname } = await import('../../src/state/names.js');
    const port = validateHostState(doc()).state.ports.find((p) => p.id === 'b');
    const ifIndex = Number(/^(\d+):/.exec(ipIn(host, '-o', 'link', 'show', portIfname(port as NonNullable<typeof port>)))?.[1]);
    expect(ifIndex).toBeGreaterThan(0);
    // a well-formed DISCOVER from vm-b's own MAC, but leaving the host towards the VM
    const discover = serializeMessage({ op: 1, xid: 9, secs: 0, flags: 0x8000, ciaddr: '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: '0.0.0.0', chaddr: 'aa:00:05:00:00:02', options: new Map([[53, Buffer.from([1])]]) });
    const ns = new NetnsBinding(host);
    const sender = new FrameSender(ns);
    const before = responder.stats();
    try {
      for (let i = 0; i < 20; i++) sender.send(ifIndex, buildUdp4({ srcMac: 'aa:00:05:00:00:02', dstMac: 'ff:ff:ff:ff:ff:ff', srcIp: '0.0.0.0', dstIp: '255.255.255.255', srcPort: 68, dstPort: 67, payload: discover }));
    } finally {
      sender.close();
      ns.close();
    }
    await new Promise((r) => setTimeout(r, 500));
    // every DHCPv4 counter unchanged; the IPv6 ones count the VM namespaces' own router
    // solicitations, which their kernels may send at any time
    const dhcp4 = ({ rsReceived: _rs, raSent: _ra, dhcpv6Replies: _v6, ...rest }: ReturnType<Responder['stats']>) => rest;
    expect(dhcp4(responder.stats())).toEqual(dhcp4(before));
    expect(responder.stats().received).toBe(before.received);
    expect(responder.stats().answered).toBe(before.answered);
  });
});

async function waitFor(pred: () => boolean, ms: number): Promise<void> {
  const start = Date.now();
  while (!pred()) {
    if (Date.now() - start > ms) throw new Error(`not reached within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
