// `plumb lab …`: the one-command local lab built from network namespaces on this machine.
import { execFileSync, spawnSync } from 'node:child_process';
import type { Command } from 'commander';
import { ValidationError } from '../../util/errors.js';
import { CONTROLLER_URL, HOSTS, LAB_AGENT_METRICS, LAB_DIR, LAB_ENV_FILE, NS, vmNetns } from '../../lab/layout.js';
import { labIsUp, labUp } from '../../lab/up.js';
import { killDaemon, LAB_DAEMONS, startDaemon, type LabDaemon } from '../../lab/drills.js';
import { readHaLayout } from '../../lab/ha.js';
import { haHealth } from '../../lab/ha-status.js';
import { labDown, labNamespaces } from '../../lab/down.js';
import { alive, readPids, startPlumb } from '../../lab/processes.js';
import { createPort, waitPortActive, api, LAB_ADMIN, LAB_ADMIN_PASSWORD, LAB_USER, LAB_PASSWORD } from '../../lab/controller.js';
import { createVmNamespace, superviseVmDhcp, waitVmAddresses } from '../../lab/vm.js';
import { labDemo } from '../../lab/demo.js';
import { netnsExists } from '../../lab/topology.js';

const say = (line: string): void => void process.stdout.write(`${line}\n`);

function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new ValidationError('user', 'the lab creates network namespaces: run it as root');
}

/** `router`, `h1`, `h2` or a VM's device id -> its namespace. */
function namespaceOf(name: string): string {
  if (name === 'router') return NS.router;
  if (name === 'h1' || name === 'h2') return NS[name];
  const ns = vmNetns(name);
  if (!netnsExists(ns)) throw new ValidationError('target', `no lab VM or host named '${name}' (hosts: h1, h2; router; VMs: ${labNamespaces().filter((n) => n.startsWith('plab-vm-')).map((n) => n.slice(8)).join(', ') || 'none'})`);
  return ns;
}

const USAGE = `
The lab is up.
  controller   ${CONTROLLER_URL}  (credentials in ${LAB_ENV_FILE}; plumb and openstack read them)
  hosts        h1, h2 (agents in namespaces ${NS.h1}, ${NS.h2}), VXLAN underlay 10.90.0.0/24
  metrics      http://${LAB_AGENT_METRICS.h1}/metrics (h1), http://${LAB_AGENT_METRICS.h2}/metrics (h2)
  public net   203.0.113.0/24 and 2001:db8:100::/64 routed to VMs; upstream router namespace 'router'

Try:
  plumb network list
  plumb network create --name my_lan
  plumb lab server create vm1 --host h1 --nic net-id=<my_lan id>
  plumb lab server create vm2 --host h2 --nic net-id=<my_lan id>
  plumb lab exec vm1 -- ip addr
  plumb lab exec vm1 -- ping -c 3 <vm2 address>
  plumb ip create --network-id <public id> && plumb ip attach <ip id> --server-id vm1 --wait
  plumb lab exec router -- ping -c 3 <floating ip>
  plumb lab demo         (replays the kamaki/pyrax walkthroughs)
  plumb lab status
  plumb lab down
  openstack --os-auth-type http_basic --os-username ${LAB_USER} --os-password ${LAB_PASSWORD} --os-endpoint ${CONTROLLER_URL} network list
`;

const HA_USAGE = `HA control plane (plumb lab status shows each part's health):
  haproxy      ${CONTROLLER_URL} -> controller-1 (http://127.0.0.1:9697), controller-2 (http://127.0.0.1:9698)
  store        PostgreSQL in ${LAB_DIR}/postgres (one publisher at a time: the lease holder)
  bus          three NATS nodes, the desired-state bucket replicated three times
`;

export function registerLabCommands(program: Command): void {
  const lab = program.command('lab').description('a local lab: nats-server, controller and two hypervisor hosts in network namespaces');

  lab
    .command('up')
    .description('bring the lab up (idempotent) and print how to use it')
    .option('--ha', 'PostgreSQL, two controllers behind haproxy and a three-node NATS cluster instead of one of each')
    .action(async (opts: { ha?: boolean }) => {
      requireRoot();
      if (labIsUp()) {
        say(USAGE);
        return;
      }
      if (labNamespaces().length > 0) {
        say('a previous lab was left behind: removing it first');
        await labDown(say);
      }
      try {
        await labUp(say, { ha: opts.ha === true });
      } catch (err) {
        say(`lab up failed; logs are in ${LAB_DIR}/logs. Cleaning up.`);
        for (const name of opts.ha ? ['controller-1', 'controller-2', 'haproxy'] : ['controller']) spawnSync('tail', ['-n', '20', `${LAB_DIR}/logs/${name}.log`], { stdio: 'inherit' });
        await labDown(say);
        throw err;
      }
      say(USAGE);
      if (readHaLayout()) say(HA_USAGE);
    });

  lab
    .command('down')
    .description('remove every namespace, process and device the lab made')
    .action(async () => {
      requireRoot();
      await labDown(say);
      say('lab removed');
    });

  lab
    .command('status')
    .description('hosts, VMs and ports of the lab')
    .action(async () => {
      const pids = readPids();
      say('processes:');
      for (const [name, pid] of Object.entries(pids)) say(`  ${name.padEnd(16)} pid ${pid} ${alive(pid) ? 'running' : 'DEAD'}`);
      const ha = readHaLayout();
      if (ha) {
        say('control plane (HA):');
        for (const h of await haHealth(ha)) say(`  ${h.part.padEnd(14)} ${(h.up ? 'up' : 'DOWN').padEnd(5)} ${h.address}${h.detail ? `  ${h.detail}` : ''}`);
      }
      const agents = await api<{ agents: { host: string; alive: boolean }[] }>('GET', '/v2.0/agents', undefined, LAB_ADMIN, LAB_ADMIN_PASSWORD).catch(() => ({ agents: [] }));
      say('hosts:');
      for (const h of HOSTS) say(`  ${h.padEnd(4)} namespace ${NS[h]}  agent ${agents.agents.find((a) => a.host === h)?.alive ? 'alive' : 'not reporting'}`);
      say('VMs:');
      for (const ns of labNamespaces().filter((n) => n.startsWith('plab-vm-'))) {
        const addrs = execFileSync('ip', ['-n', ns, '-brief', 'addr', 'show'], { encoding: 'utf8' }).trim().split('\n').filter((l) => !l.startsWith('lo'));
        say(`  ${ns.slice(8)}`);
        for (const a of addrs) say(`    ${a}`);
      }
      const ports = await api<{ ports: { id: string; name?: string; status: string; device_id: string; 'binding:host_id'?: string; fixed_ips: { ip_address: string }[] }[] }>('GET', '/v2.0/ports', undefined, LAB_ADMIN, LAB_ADMIN_PASSWORD).catch(() => ({ ports: [] }));
      say('ports:');
      for (const p of ports.ports) say(`  ${(p.name ?? p.id).padEnd(14)} ${p.status.padEnd(7)} device ${p.device_id} host ${p['binding:host_id'] ?? '-'} ${p.fixed_ips.map((f) => f.ip_address).join(' ')}`);
    });

  const daemon = (name: string): LabDaemon => {
    const d = LAB_DAEMONS.find((x) => x === name);
    if (!d || !(d in readPids())) throw new ValidationError('part', `'${name}' is not a part of this lab (parts: ${Object.keys(readPids()).filter((n) => (LAB_DAEMONS as readonly string[]).includes(n)).join(', ')})`);
    return d;
  };
  lab
    .command('kill')
    .description('SIGKILL one part of the lab (a crash, for drills): controller-1, nats-2, postgres, agent-h1, …')
    .argument('<part>')
    .action(async (part: string) => {
      requireRoot();
      await killDaemon(daemon(part));
      say(`${part} killed`);
    });
  lab
    .command('start')
    .description('start a part of the lab again as lab up did (same config, store and credentials)')
    .argument('<part>')
    .action(async (part: string) => {
      requireRoot();
      await startDaemon(daemon(part));
      say(`${part} started`);
    });

  lab
    .command('exec')
    .description('run a command inside VM D, the router, or host h1/h2: plumb lab exec D -- CMD…')
    .argument('<target>', 'VM device id, router, h1 or h2')
    .argument('<cmd...>', 'command and arguments')
    // everything after `--` is the command, options included
    .action((target: string, cmd: string[]) => {
      const argv = cmd[0] === '--' ? cmd.slice(1) : cmd;
      if (argv.length === 0) throw new ValidationError('cmd', 'give a command after --');
      const r = spawnSync('ip', ['netns', 'exec', namespaceOf(target), ...argv], { stdio: 'inherit' });
      process.exitCode = r.status ?? 1;
    });

  const server = lab.command('server').description('play the compute service: VMs as network namespaces');
  server
    .command('create')
    .description('create VM D on host H with a NIC on each network (like nova boot --nic net-id=N)')
    .argument('<device>', 'device (server) id')
    .requiredOption('--host <host>', 'h1 or h2')
    .option('--nic <spec>', 'net-id=<network id> (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .action(async (device: string, o: { host: string; nic: string[] }) => {
      requireRoot();
      if (!/^[A-Za-z0-9_-]{1,40}$/.test(device)) throw new ValidationError('device', 'letters, digits, "_" and "-" (at most 40)');
      if (!(HOSTS as readonly string[]).includes(o.host)) throw new ValidationError('--host', `'${o.host}' is not a lab host (h1, h2)`);
      const nets = o.nic.map((n) => {
        const m = /^net-id=(.+)$/.exec(n);
        if (!m?.[1]) throw new ValidationError('--nic', `'${n}' is not net-id=<network id>`);
        return m[1];
      });
      createVmNamespace(device);
      startPlumb(`vm-dhcp-${device}`, ['lab', 'vm-dhcp', device]);
      const leased: string[] = [];
      for (const net of nets) {
        const port = await createPort(net, device, o.host);
        const active = await waitPortActive(port.id);
        say(`${active.name ?? active.id}: ${active.status} on ${o.host}, mac ${active.mac_address}, ${active.fixed_ips.map((f) => f.ip_address).join(' ') || 'no address'}`);
        leased.push(...active.fixed_ips.map((f) => f.ip_address).filter((a) => !a.includes(':')));
      }
      // the next command of a walkthrough pings these addresses: return once DHCP has put them on the NICs
      await waitVmAddresses(device, leased);
      say(`VM ${device} is namespace ${vmNetns(device)}; its NICs got their addresses by DHCP (plumb lab exec ${device} -- ip addr)`);
    });

  lab
    .command('demo')
    .description("replay the seeds' walkthroughs against the lab and print what happened")
    .action(async () => {
      requireRoot();
      if (!labIsUp()) throw new ValidationError('lab', 'the lab is not up: run plumb lab up first');
      await labDemo(say);
    });

  lab
    .command('vm-dhcp', { hidden: true })
    .argument('<device>')
    .action(async (device: string) => superviseVmDhcp(device));
}
