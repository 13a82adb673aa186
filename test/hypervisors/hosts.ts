// Two hypervisor hosts for the libvirt tests, each a network namespace with plumb's agent
// (spawned, over a real nats-server, from a real controller on loopback) and its own real
// libvirtd. Between them: an underlay link (VXLAN and migration traffic) and an upstream router
// namespace bridging both hosts' public uplinks, as a ToR would. Everything is removed by
// `close()`, by pid and by namespace name.
import type { ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startNatsServer, type NatsServer } from '../../src/bus/nats-server.js';
import { CONTROLLER_USER, seedPath } from '../../src/bus/credentials.js';
import type { RunningController } from '../../src/controller/server.js';
import { Libvirtd } from '../../src/qemu/libvirtd.js';
import { ALICE, caller, testController } from '../controller/fixture.js';
import { Netns, ipIn } from '../helpers/netns.js';
import { LogTail, spawnPlumb, tempDir } from '../helpers/topology.js';
import { until } from '../helpers/until.js';

export const PUBLIC = { cidr: '198.51.100.0/24', gateway: '198.51.100.1', routingTable: 100 } as const;

export interface Host {
  name: string;
  netns: string;
  underlay: string;
  agent: ChildProcess;
  log: LogTail;
  /** the host's own libvirtd (labs started with `libvirt: false` have none: their VM manager is Ganeti) */
  libvirtd?: Libvirtd;
}

/** The host's libvirtd, which a libvirt test needs. */
export function libvirt(h: Host): Libvirtd {
  if (!h.libvirtd) throw new Error(`host ${h.name} runs no libvirtd (HypervisorLab.start with libvirt: false)`);
  return h.libvirtd;
}

export class HypervisorLab {
  readonly netns = new Netns();
  readonly dir = tempDir();
  readonly hosts: Host[] = [];
  /** the upstream router's namespace (198.51.100.1 on its bridge) */
  upstream = '';
  /** a namespace for a client VM plugged as a veth port */
  client = '';
  server!: NatsServer;
  ctl!: RunningController;
  nova!: ReturnType<typeof caller>;
  alice!: ReturnType<typeof caller>;

  static async start(hostNames: string[], opts: { libvirt?: boolean } = {}): Promise<HypervisorLab> {
    const lab = new HypervisorLab();
    try {
      await lab.build(hostNames, opts.libvirt ?? true);
    } catch (err) {
      await lab.close();
      throw err;
    }
    return lab;
  }

  private async build(hostNames: string[], withLibvirt: boolean): Promise<void> {
    this.upstream = this.netns.add('pt-lvup');
    this.client = this.netns.add('pt-lvcl');
    ipIn(this.upstream, 'link', 'add', 'br0', 'type', 'bridge');
    ipIn(this.upstream, 'addr', 'add', `${PUBLIC.gateway}/24`, 'dev', 'br0');
    ipIn(this.upstream, 'link', 'set', 'br0', 'up');
    this.server = await startNatsServer({ hosts: hostNames });
    this.ctl = await testController({
      nats: { url: this.server.url, seedFile: seedPath(this.server.credsDir, CONTROLLER_USER) },
      privateNetworks: { defaultType: 'VXLAN', enabledTypes: ['MAC_FILTERED', 'VXLAN'], cidrRange: '192.168.0.0/16', vniRange: [7000, 7099] },
      publicNetworks: [{ name: 'public', uplink: 'up0', routingTable: PUBLIC.routingTable, subnets: [{ cidr: PUBLIC.cidr, gateway: PUBLIC.gateway, allocationPools: [{ start: '198.51.100.10', end: '198.51.100.50' }] }] }],
      hosts: { defaults: { underlayDevice: 'ul0' } },
      bindingProfile: { netnsAllowed: [this.client] },
    });
    this.nova = caller(this.ctl.url, 'nova', 'pw-n');
    this.alice = caller(this.ctl.url, 'alice', 'pw-a');
    const names = hostNames.map((h) => ({ h, ns: this.netns.add(`pt-${h}`) }));
    // the underlay: one link between the (at most two) hosts
    const [a, b] = names;
    if (a && b) {
      ipIn(a.ns, 'link', 'add', 'ul0', 'type', 'veth', 'peer', 'name', 'ul0', 'netns', b.ns);
    }
    for (const [i, { h, ns }] of names.entries()) {
      const underlay = `10.99.0.${i + 1}`;
      if (!b) ipIn(ns, 'link', 'add', 'ul0', 'type', 'veth', 'peer', 'name', 'ul0-peer');
      ipIn(ns, 'addr', 'add', `${underlay}/24`, 'dev', 'ul0');
      ipIn(ns, 'link', 'set', 'ul0', 'up');
      ipIn(ns, 'link', 'set', 'lo', 'up');
      // the public uplink, plugged into the upstream router's bridge
      ipIn(ns, 'link', 'add', 'up0', 'type', 'veth', 'peer', 'name', `u-${h}`, 'netns', this.upstream);
      ipIn(ns, 'link', 'set', 'up0', 'up');
      ipIn(this.upstream, 'link', 'set', `u-${h}`, 'master', 'br0', 'up');
      const config = join(this.dir, `${h}.yaml`);
      writeFileSync(
        config,
        `host: ${h}\nnetns: ${ns}\nnats:\n  url: ${this.server.url}\n  seedFile: ${seedPath(this.server.credsDir, h)}\nunderlay:\n  address: ${underlay}\nveth:\n  netnsAllowed: [${this.client}]\nheartbeatSeconds: 1\n`,
      );
      const agent = spawnPlumb(['agent', 'run', '--config', config]);
      const log = new LogTail(agent);
      const libvirtd = withLibvirt ? await Libvirtd.start(ns, join(this.dir, `libvirt-${h}`)) : undefined;
      this.hosts.push({ name: h, netns: ns, underlay, agent, log, libvirtd });
      await log.waitFor((l) => l.msg === 'agent started', 20_000);
    }
  }

  /** The id of the public network the controller's config makes. */
  async publicNetwork(): Promise<string> {
    return (await this.alice('GET', '/v2.0/networks')).body.networks.find((n: { name: string }) => n.name === 'public').id as string;
  }

  /**
   * A client VM that stays put: a veth port of `network` on `host`, its peer eth0 in the client
   * namespace, addressed and up once the port is ACTIVE.
   */
  async plugClient(network: string, host: string): Promise<void> {
    const port = (await this.nova('POST', '/v2.0/ports', { port: { network_id: network, project_id: ALICE, device_id: 'client', 'binding:host_id': host, 'binding:profile': { kind: 'veth', netns: this.client, peer_name: 'eth0' } } })).body.port;
    await until(async () => ((await this.nova('GET', `/v2.0/ports/${port.id}`)).body.port.status === 'ACTIVE' ? true : undefined), 30_000, 50);
    ipIn(this.client, 'addr', 'add', `${port.fixed_ips[0].ip_address as string}/24`, 'dev', 'eth0');
    ipIn(this.client, 'link', 'set', 'eth0', 'up');
  }

  /** Each agent's last log lines above debug, for failure messages. */
  agentTail(lines = 30): string {
    return this.hosts.flatMap((h) => h.log.lines.filter((x) => x.level !== 20).slice(-lines).map((x) => `${h.name} ${JSON.stringify(x)}`)).join('\n');
  }

  host(name: string): Host {
    const h = this.hosts.find((x) => x.name === name);
    if (!h) throw new Error(`no host ${name}`);
    return h;
  }

  async close(): Promise<void> {
    for (const h of this.hosts) {
      h.libvirtd?.stop();
      if (h.agent.exitCode === null) {
        h.agent.kill('SIGTERM');
        await new Promise((r) => setTimeout(r, 0));
      }
    }
    for (const h of this.hosts) if (h.agent.exitCode === null) await new Promise((r) => h.agent.once('exit', r));
    await this.ctl?.close();
    await this.server?.destroy();
    this.netns.cleanup();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
