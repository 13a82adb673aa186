// The stock `openstack` CLI (python3-openstackclient) drives the controller with HTTP basic auth.
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import type { RunningController } from '../../src/controller/server.js';
import { describeUnless } from '../helpers/skip.js';
import { it } from 'vitest';
import { testController } from './fixture.js';

const run = promisify(execFile);
const missing = existsSync('/usr/bin/openstack') ? undefined : 'the openstack CLI is not installed (scripts/apt-packages.txt installs python3-openstackclient)';
let ctl: RunningController;

async function os(...args: string[]): Promise<unknown> {
  const { stdout } = await run('openstack', ['--os-auth-type', 'http_basic', '--os-username', 'alice', '--os-password', 'pw-a', '--os-endpoint', ctl.url, ...args, '-f', 'json'], { timeout: 60_000 });
  return JSON.parse(stdout) as unknown;
}

describeUnless(missing)('openstack CLI against plumb', () => {
  beforeAll(async () => {
    ctl = await testController();
  });
  afterAll(async () => ctl?.close());

  it('network create/list/show, subnet list, port create/list, floating ip create/list', async () => {
    const net = (await os('network', 'create', 'osnet')) as { id: string; name: string; status: string };
    expect(net).toMatchObject({ name: 'osnet', status: 'ACTIVE' });
    const list = (await os('network', 'list')) as { Name: string }[];
    expect(list.map((n) => n.Name).sort()).toEqual(['osnet', 'public']);
    const subnets = (await os('subnet', 'list')) as { Subnet: string }[];
    expect(subnets.map((s) => s.Subnet)).toContain('192.168.1.0/24');
    const port = (await os('port', 'create', '--network', net.id, '--device', 'vm9', 'p9')) as { mac_address: string; fixed_ips: unknown };
    expect(port.mac_address).toMatch(/^aa:00:01:/); // the network's MAC prefix (MAC_FILTERED): the pool's first free one
    const ports = (await os('port', 'list')) as { Name: string; Status: string }[];
    expect(ports).toEqual([expect.objectContaining({ Name: 'p9', Status: 'BUILD' })]);
    const fip = (await os('floating', 'ip', 'create', 'public')) as { floating_ip_address: string };
    expect(fip.floating_ip_address).toBe('192.168.3.5');
    const fips = (await os('floating', 'ip', 'list')) as { 'Floating IP Address': string }[];
    expect(fips.map((f) => f['Floating IP Address'])).toEqual(['192.168.3.5']);
  }, 120_000);

  it('quota show and quota list --network --detail: limits and usage of the project; another project is not found', async () => {
    // openstackclient 6 resolves the project through /projects and asks compute and volume too
    // (empty quota sets: plumb manages neither); usage is what the test above created
    const show = (await os('quota', 'show', 's0m3-u53r-1d')) as Record<string, unknown>;
    expect(show).toMatchObject({ project: 's0m3-u53r-1d', project_name: 's0m3-u53r-1d', networks: 5, subnets: -1, ports: 1250, 'floating-ips': 3 });
    expect(Object.keys(show).filter((k) => ['cores', 'instances', 'ram', 'volumes', 'gigabytes'].includes(k))).toEqual([]);
    const defaults = (await os('quota', 'show', '--default', 's0m3-u53r-1d')) as Record<string, unknown>;
    expect(defaults).toMatchObject({ networks: 5, subnets: -1, ports: 1250, 'floating-ips': 3 });
    const detail = (await os('quota', 'list', '--network', '--detail', '--project', 's0m3-u53r-1d')) as { Resource: string; 'In Use': number; Reserved: number; Limit: number }[];
    expect([...detail].sort((a, b) => a.Resource.localeCompare(b.Resource))).toEqual([
      { Resource: 'floating_ips', 'In Use': 1, Reserved: 0, Limit: 3 },
      { Resource: 'networks', 'In Use': 1, Reserved: 0, Limit: 5 },
      { Resource: 'ports', 'In Use': 1, Reserved: 0, Limit: 1250 },
      { Resource: 'subnets', 'In Use': 1, Reserved: 0, Limit: -1 },
    ]);
    // every project has the configured limits: none differs from the defaults
    expect(await os('quota', 'list', '--network')).toEqual([]);
    const other = await run('openstack', ['--os-auth-type', 'http_basic', '--os-username', 'alice', '--os-password', 'pw-a', '--os-endpoint', ctl.url, 'quota', 'show', 'other-project'], { timeout: 60_000 }).then(
      () => undefined,
      (err: { code?: number; stderr?: string }) => err,
    );
    expect(other?.code).not.toBe(0);
    expect(other?.stderr?.trim()).toBe("No project with a name or ID of 'other-project' exists.");
  }, 120_000);
});
