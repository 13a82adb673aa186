// The kamaki-like client: network, port, ip, quota, server and host commands over the API.
// Human output by default, --json for machines; errors print like the seeds:
// "(409) IP address '192.168.3.5' is already in use".
import type { Command } from 'commander';
import { ApiClient } from '../../client/api.js';
import { ValidationError } from '../../util/errors.js';

type Obj = Record<string, unknown>;
interface GlobalOpts {
  url?: string;
  user?: string;
  password?: string;
  json?: boolean;
  l?: boolean;
}

const out = (s: string): void => void process.stdout.write(`${s}\n`);

function client(cmd: Command): { api: ApiClient; o: GlobalOpts } {
  const o = cmd.optsWithGlobals<GlobalOpts>();
  return { api: new ApiClient({ ...(o.url ? { url: o.url } : {}), ...(o.user ? { user: o.user } : {}), ...(o.password ? { password: o.password } : {}) }), o };
}

function show(obj: Obj, indent = ' '): void {
  for (const [k, v] of Object.entries(obj)) {
    if (Array.isArray(v)) {
      out(`${indent}${k}:`);
      for (const x of v) out(`${indent}   ${typeof x === 'object' && x ? Object.entries(x as Obj).map(([a, b]) => `${a}: ${String(b)}`).join(', ') : String(x)}`);
    } else if (v && typeof v === 'object') out(`${indent}${k}: ${JSON.stringify(v)}`);
    else out(`${indent}${k}: ${v === null || v === undefined ? 'None' : String(v)}`);
  }
}

function print(o: GlobalOpts, value: unknown, human: () => void): void {
  if (o.json) out(JSON.stringify(value, null, 2));
  else human();
}

async function waitActive(api: ApiClient, portId: string, timeoutS = 60): Promise<Obj> {
  const deadline = Date.now() + timeoutS * 1000;
  for (;;) {
    const { port } = await api.call<{ port: Obj }>('GET', `/v2.0/ports/${portId}`);
    if (port.status === 'ACTIVE') return port;
    if (port.status === 'ERROR') throw new ValidationError(`port ${portId}`, `ERROR: ${String(port.status_reason ?? '')}`);
    if (Date.now() > deadline) throw new ValidationError(`port ${portId}`, `still ${String(port.status)} after ${timeoutS} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function waitGone(api: ApiClient, portId: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    try {
      await api.call('GET', `/v2.0/ports/${portId}`);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

function group(program: Command, name: string, description: string): Command {
  return program
    .command(name)
    .description(description)
    .option('--url <url>', 'controller URL (PLUMB_URL)')
    .option('--user <name>', 'user (PLUMB_USER)')
    .option('--password <pw>', 'password (PLUMB_PASSWORD)')
    .option('--json', 'machine-readable output');
}

const repeat = (v: string, acc: string[]): string[] => [...acc, v];

function portLine(p: Obj): string {
  const ips = (p.fixed_ips as { ip_address: string }[]).map((f) => f.ip_address).join(' ');
  return `${String(p.id)} ${String(p.name)}  ${String(p.status)}  network ${String(p.network_id)}  device ${String(p.device_id)}  host ${String(p['binding:host_id'] || '-')}  ${String(p.mac_address)}  ${ips}`;
}

export function registerClientCommands(program: Command): void {
  // ---------------- network
  const net = group(program, 'network', 'private and public networks');
  net
    .command('list')
    .option('-l', 'long listing')
    .action(async (_: unknown, cmd: Command) => {
      const { api, o } = client(cmd);
      const { networks } = await api.call<{ networks: Obj[] }>('GET', '/v2.0/networks');
      print(o, networks, () => {
        for (const n of networks) {
          out(`${String(n.id)} ${String(n.name)}`);
          if (o.l) show({ status: n.status, 'router:external': n['router:external'], public: n.public, type: n.type, subnets: n.subnets, tenant_id: n.tenant_id, created: n.created_at, updated: n.updated_at });
        }
      });
    });
  net
    .command('create')
    .requiredOption('--name <name>')
    .option('--cidr <cidr>')
    .option('--type <type>', 'MAC_FILTERED, VXLAN or PHYSICAL_VLAN (as enabled)')
    .action(async (a: { name: string; cidr?: string; type?: string }, cmd: Command) => {
      const { api, o } = client(cmd);
      const { network } = await api.call<{ network: Obj }>('POST', '/v2.0/networks', { network: { name: a.name, ...(a.cidr ? { cidr: a.cidr } : {}), ...(a.type ? { type: a.type } : {}) } });
      print(o, network, () => show(network));
    });
  net.command('info').argument('<id>').action(async (id: string, _: unknown, cmd: Command) => {
    const { api, o } = client(cmd);
    const { network } = await api.call<{ network: Obj }>('GET', `/v2.0/networks/${encodeURIComponent(id)}`);
    const { ports } = await api.call<{ ports: Obj[] }>('GET', `/v2.0/ports?network_id=${encodeURIComponent(id)}`);
    print(o, { ...network, attachments: ports.map((p) => p.name) }, () => show({ attachments: ports.map((p) => p.name), ...network }));
  });
  net.command('delete').argument('<id>').action(async (id: string, _: unknown, cmd: Command) => {
    const { api } = client(cmd);
    await api.call('DELETE', `/v2.0/networks/${encodeURIComponent(id)}`);
  });
  net
    .command('connect')
    .argument('<network>')
    .requiredOption('--device-id <id>', 'device (repeatable)', repeat, [] as string[])
    .option('--host <host>', 'hypervisor host to bind the ports to (admin and service roles; others join the device\'s host)')
    .option('--project <id>', 'the project that owns the ports (admin and service roles: the VM manager acting for a project)')
    .option('--wait', 'wait until every port is ACTIVE')
    .action(async (network: string, a: { deviceId: string[]; host?: string; project?: string; wait?: boolean }, cmd: Command) => {
      const { api, o } = client(cmd);
      for (const d of a.deviceId) {
        out(`Creating a port to connect network ${network} with device ${d}`);
        let { port } = await api.call<{ port: Obj }>('POST', '/v2.0/ports', { port: { network_id: network, device_id: d, ...(a.host ? { 'binding:host_id': a.host } : {}), ...(a.project ? { project_id: a.project } : {}) } });
        if (a.wait) port = await waitActive(api, String(port.id));
        print(o, port, () => out(portLine(port)));
      }
    });
  net
    .command('disconnect')
    .argument('<network>')
    .option('--device-id <id>', 'device (repeatable)', repeat, [] as string[])
    .option('--nic <name>', 'a NIC by name, e.g. nic-141-1 (repeatable)', repeat, [] as string[])
    .option('--wait')
    .action(async (network: string, a: { deviceId: string[]; nic: string[]; wait?: boolean }, cmd: Command) => {
      const { api } = client(cmd);
      const { ports } = await api.call<{ ports: Obj[] }>('GET', `/v2.0/ports?network_id=${encodeURIComponent(network)}`);
      const victims = ports.filter((p) => a.deviceId.includes(String(p.device_id)) || a.nic.includes(String(p.name)));
      for (const n of a.nic) if (!ports.some((p) => p.name === n)) throw new ValidationError('--nic', `no NIC ${n} on network ${network}`);
      if (victims.length === 0) throw new ValidationError('--device-id', `no port of ${[...a.deviceId, ...a.nic].join(', ') || '(nothing given)'} on network ${network}`);
      for (const p of victims) {
        await api.call('DELETE', `/v2.0/ports/${String(p.id)}`);
        if (a.wait) await waitGone(api, String(p.id));
      }
    });

  // ---------------- port
  const port = group(program, 'port', 'ports (a NIC of a device on a network)');
  port.command('list').option('-l').action(async (_: unknown, cmd: Command) => {
    const { api, o } = client(cmd);
    const { ports } = await api.call<{ ports: Obj[] }>('GET', '/v2.0/ports');
    print(o, ports, () => {
      for (const p of ports) {
        out(` ${String(p.id)}`);
        if (o.l) show({ name: p.name, status: p.status, network_id: p.network_id, mac_address: p.mac_address, fixed_ips: p.fixed_ips, device_id: p.device_id, 'binding:host_id': p['binding:host_id'] }, '    ');
      }
    });
  });
  port
    .command('create')
    .requiredOption('--network-id <id>')
    .requiredOption('--device-id <id>')
    .option('--ip-address <ip>')
    .option('--host <host>', "hypervisor host (admin and service roles; others join the device's host)")
    .option('--project <id>', 'the project that owns the port (admin and service roles)')
    .option('--wait')
    .action(async (a: { networkId: string; deviceId: string; ipAddress?: string; host?: string; project?: string; wait?: boolean }, cmd: Command) => {
      const { api, o } = client(cmd);
      let { port: p } = await api.call<{ port: Obj }>('POST', '/v2.0/ports', {
        port: { network_id: a.networkId, device_id: a.deviceId, ...(a.ipAddress ? { fixed_ips: [{ ip_address: a.ipAddress }] } : {}), ...(a.host ? { 'binding:host_id': a.host } : {}), ...(a.project ? { project_id: a.project } : {}) },
      });
      if (a.wait) p = await waitActive(api, String(p.id));
      print(o, p, () => out(portLine(p)));
    });
  port.command('delete').argument('<id>').option('--wait').action(async (id: string, a: { wait?: boolean }, cmd: Command) => {
    const { api } = client(cmd);
    await api.call('DELETE', `/v2.0/ports/${encodeURIComponent(id)}`);
    if (a.wait) await waitGone(api, id);
  });

  // ---------------- ip (floating IPs)
  const ip = group(program, 'ip', 'floating IPs on the public network');
  ip.command('list').action(async (_: unknown, cmd: Command) => {
    const { api, o } = client(cmd);
    const { floatingips } = await api.call<{ floatingips: Obj[] }>('GET', '/v2.0/floatingips');
    print(o, floatingips, () => {
      for (const f of floatingips) out(`${String(f.id)} ${String(f.floating_ip_address)}  ${f.instance_id ? `attached to ${String(f.instance_id)} (port ${String(f.port_id)})` : 'not attached'}`);
    });
  });
  ip.command('create').option('--network-id <id>').action(async (a: { networkId?: string }, cmd: Command) => {
    const { api, o } = client(cmd);
    const { floatingip } = await api.call<{ floatingip: Obj }>('POST', '/v2.0/floatingips', { floatingip: a.networkId ? { floating_network_id: a.networkId } : {} });
    print(o, floatingip, () => show({ instance_id: floatingip.instance_id, floating_network_id: floatingip.floating_network_id, fixed_ip_address: floatingip.fixed_ip_address, floating_ip_address: floatingip.floating_ip_address, port_id: floatingip.port_id, id: floatingip.id }));
  });
  ip.command('attach')
    .argument('<ip>', 'floating IP id')
    .requiredOption('--server-id <device>')
    .option('--host <host>')
    .option('--wait')
    .action(async (id: string, a: { serverId: string; host?: string; wait?: boolean }, cmd: Command) => {
      const { api, o } = client(cmd);
      const { floatingip } = await api.call<{ floatingip: Obj }>('POST', `/v2.0/floatingips/${encodeURIComponent(id)}/attach`, { device_id: a.serverId, ...(a.host ? { host: a.host } : {}) });
      let p = (await api.call<{ port: Obj }>('GET', `/v2.0/ports/${String(floatingip.port_id)}`)).port;
      if (a.wait) p = await waitActive(api, String(p.id));
      print(o, p, () => out(portLine(p)));
    });
  ip.command('detach').argument('<ip>').option('--wait').action(async (id: string, a: { wait?: boolean }, cmd: Command) => {
    const { api } = client(cmd);
    const { floatingip } = await api.call<{ floatingip: Obj }>('GET', `/v2.0/floatingips/${encodeURIComponent(id)}`);
    await api.call('PUT', `/v2.0/floatingips/${encodeURIComponent(id)}`, { floatingip: { port_id: null } });
    if (a.wait && floatingip.port_id) await waitGone(api, String(floatingip.port_id));
  });
  ip.command('delete').argument('<ip>').action(async (id: string, _: unknown, cmd: Command) => {
    const { api } = client(cmd);
    await api.call('DELETE', `/v2.0/floatingips/${encodeURIComponent(id)}`);
  });

  // ---------------- quota, server, host
  const quota = group(program, 'quota', 'quotas and usage');
  quota.command('list').action(async (_: unknown, cmd: Command) => {
    const { api, o } = client(cmd);
    const { quotas } = await api.call<{ quotas: (Obj & { usage: Record<string, number> })[] }>('GET', '/v2.0/quotas');
    const q = quotas[0];
    print(o, q, () => {
      if (!q) return;
      for (const [k, label] of [['network', 'cyclades.network.private'], ['floatingip', 'cyclades.floating_ip'], ['port', 'cyclades.port']] as const) {
        out(` ${label}:\n    usage: ${q.usage[k] ?? 0}\n    limit: ${String(q[k])}\n    pending: 0`);
      }
    });
  });
  const server = group(program, 'server', 'devices (servers) as seen by the network');
  server.command('addr').argument('<device>').action(async (device: string, _: unknown, cmd: Command) => {
    const { api, o } = client(cmd);
    const { ports } = await api.call<{ ports: Obj[] }>('GET', `/v2.0/ports?device_id=${encodeURIComponent(device)}`);
    print(o, ports, () => {
      for (const p of ports) {
        const ips = p.fixed_ips as { ip_address: string }[];
        out(String(p.name));
        show({ firewallProfile: p.firewall_profile, ipv4: ips.find((x) => !x.ip_address.includes(':'))?.ip_address ?? null, ipv6: ips.find((x) => x.ip_address.includes(':'))?.ip_address ?? null, mac_address: p.mac_address, network_id: p.network_id, status: p.status });
      }
    });
  });
  const host = group(program, 'host', 'hypervisor hosts (agents)');
  host.command('list').action(async (_: unknown, cmd: Command) => {
    const { api, o } = client(cmd);
    const { agents } = await api.call<{ agents: Obj[] }>('GET', '/v2.0/agents');
    print(o, agents, () => {
      for (const a of agents) out(`${String(a.host)}  ${a.alive ? 'alive' : 'DOWN'}  underlay ${String((a.configurations as Obj).underlay_address ?? '-')}  last heartbeat ${String(a.heartbeat_timestamp ?? 'never')}`);
    });
  });
}
