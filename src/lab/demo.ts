// `plumb lab demo`: the seeds' walkthroughs against the running lab, printing what happens.
// Private network, two servers on different hosts pinging each other, a floating IP reachable
// from the upstream router and then moved to the other server on the other host, the quota and
// in-use errors, and everything torn down again.
import { execFileSync, spawnSync } from 'node:child_process';
import { api } from './controller.js';
import { NS, vmNetns } from './layout.js';
import { PLUMB_BIN } from './processes.js';

type Obj = Record<string, any>;

export class DemoStepError extends Error {}

function plumb(args: string[]): { code: number; out: string } {
  const r = spawnSync(process.execPath, [PLUMB_BIN, ...args], { encoding: 'utf8' });
  return { code: r.status ?? 1, out: `${r.stdout}${r.stderr}`.trim() };
}

function ping(ns: string, address: string): boolean {
  return spawnSync('ip', ['netns', 'exec', ns, 'ping', '-c', '2', '-W', '2', '-i', '0.3', address]).status === 0;
}

async function until(what: string, pred: () => boolean, ms = 20_000): Promise<void> {
  const start = Date.now();
  while (!pred()) {
    if (Date.now() - start > ms) throw new DemoStepError(`${what}: not reached within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function vmAddress(device: string, nic: string): string | undefined {
  try {
    const out = execFileSync('ip', ['-n', vmNetns(device), '-4', '-o', 'addr', 'show', 'dev', nic], { encoding: 'utf8' });
    return /inet (\d+\.\d+\.\d+\.\d+)/.exec(out)?.[1];
  } catch {
    return undefined;
  }
}

export async function labDemo(say: (line: string) => void): Promise<void> {
  const step = (s: string): void => say(`\n== ${s}`);
  const show = (args: string[]): { code: number; out: string } => {
    const r = plumb(args);
    say(`$ plumb ${args.join(' ')}`);
    if (r.out) say(r.out.replace(/^/gm, '  '));
    return r;
  };

  step('networks before');
  show(['network', 'list']);
  const pub = ((await api<{ networks: Obj[] }>('GET', '/v2.0/networks')).networks.find((n) => n.public) ?? {}) as Obj;

  step('create a private network');
  const created = show(['network', 'create', '--name', 'My Private Net', '--json']);
  const net = JSON.parse(created.out.slice(created.out.indexOf('{'))) as Obj;

  step('two servers on different hosts, connected to it (DHCP inside the VMs)');
  for (const [d, h] of [['141', 'h1'], ['142', 'h2']] as const) show(['lab', 'server', 'create', d, '--host', h, '--nic', `net-id=${String(net.id)}`]);
  await until('both VMs got their addresses by DHCP', () => !!vmAddress('141', 'eth0') && !!vmAddress('142', 'eth0'));
  const a141 = vmAddress('141', 'eth0') as string;
  const a142 = vmAddress('142', 'eth0') as string;
  say(`  vm 141 eth0 ${a141} (host h1), vm 142 eth0 ${a142} (host h2)`);
  if (!ping(vmNetns('141'), a142)) throw new DemoStepError(`141 cannot ping 142 (${a142}) across the VXLAN underlay`);
  say(`  141 -> 142 ping across hosts: ok`);

  step('a floating IP: allocate, attach to 141, reach it from the upstream router');
  const fipOut = show(['ip', 'create', '--network-id', String(pub.id), '--json']);
  const fip = JSON.parse(fipOut.out.slice(fipOut.out.indexOf('{'))) as Obj;
  show(['ip', 'attach', String(fip.id), '--server-id', '141', '--wait']);
  await until('141 got the floating IP by DHCP', () => !!vmAddress('141', 'eth1'));
  await until(`router reaches ${String(fip.floating_ip_address)} on 141`, () => ping(NS.router, String(fip.floating_ip_address)));
  say(`  router -> ${String(fip.floating_ip_address)} (141 on h1): ok`);
  const again = show(['ip', 'attach', String(fip.id), '--server-id', '142']);
  if (again.code === 0) throw new DemoStepError('attaching a used floating IP should fail');

  step('move the floating IP to 142 on the other host');
  show(['ip', 'detach', String(fip.id), '--wait']);
  show(['ip', 'attach', String(fip.id), '--server-id', '142', '--wait']);
  await until('142 got the floating IP by DHCP', () => !!vmAddress('142', 'eth1'));
  await until(`router reaches ${String(fip.floating_ip_address)} on 142`, () => ping(NS.router, String(fip.floating_ip_address)));
  say(`  router -> ${String(fip.floating_ip_address)} (142 on h2): ok`);

  step('quota: reserve floating IPs until the limit');
  const extra: string[] = [];
  for (;;) {
    const r = show(['ip', 'create', '--network-id', String(pub.id), '--json']);
    if (r.code !== 0) break;
    extra.push(String((JSON.parse(r.out.slice(r.out.indexOf('{'))) as Obj).id));
    if (extra.length > 10) throw new DemoStepError('the floating IP quota was never reached');
  }
  for (const id of extra) show(['ip', 'delete', id]);

  step('networks in use cannot be deleted; the public one never');
  show(['network', 'delete', String(pub.id)]);
  show(['network', 'delete', String(net.id)]);

  step('tear down');
  show(['ip', 'detach', String(fip.id), '--wait']);
  show(['ip', 'delete', String(fip.id)]);
  show(['network', 'disconnect', String(net.id), '--device-id=141', '--device-id=142', '--wait']);
  const del = show(['network', 'delete', String(net.id)]);
  if (del.code !== 0) throw new DemoStepError('the private network could not be deleted after disconnecting');
  for (const d of ['141', '142']) execFileSync('ip', ['netns', 'del', vmNetns(d)]);
  show(['network', 'list']);
  say('\ndemo complete');
}
