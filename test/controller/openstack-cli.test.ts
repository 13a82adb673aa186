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
    expect(port.mac_address).toMatch(/^aa:00:02:/) // the network's MAC prefix (MAC_FILTERED);
    const ports = (await os('port', 'list')) as { Name: string; Status: string }[];
    expect(ports).toEqual([expect.objectContaining({ Name: 'p9', Status: 'BUILD' })]);
    const fip = (await os('floating', 'ip', 'create', 'public')) as { floating_ip_address: string };
    expect(fip.floating_ip_address).toBe('192.168.3.5');
    const fips = (await os('floating', 'ip', 'list')) as { 'Floating IP Address': string }[];
    expect(fips.map((f) => f['Floating IP Address'])).toEqual(['192.168.3.5']);
  }, 120_000);
});
