// The Vagrantfile is valid for vagrant (offline `vagrant validate`), and its provisioning
// scripts are valid shell.
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { itUnless } from '../helpers/skip.js';
import { startNatsServer, type NatsServer } from '../../src/bus/nats-server.js';
import { connectBus } from '../../src/bus/connection.js';
import { CONTROLLER_USER, seedPath } from '../../src/bus/credentials.js';
import { inboxPrefix } from '../../src/bus/layout.js';

const repo = new URL('../..', import.meta.url).pathname;
const vagrant = ['/usr/bin/vagrant', '/usr/local/bin/vagrant'].find(existsSync);
const ruby = spawnSync('ruby', ['-v']).status === 0;
let nats: NatsServer | undefined;
const dirs: string[] = [];
afterAll(async () => {
  await nats?.destroy();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('Vagrantfile', () => {
  // No provider (VirtualBox, libvirt) exists on this machine, so provider blocks are ignored,
  // which `vagrant validate --ignore-provider` does; the rest of the file is checked.
  itUnless(vagrant ? undefined : 'vagrant is not installed (scripts/apt-packages.txt installs it)')('passes vagrant validate', () => {
    const r = spawnSync(vagrant as string, ['validate', '--ignore-provider'], { cwd: repo, encoding: 'utf8', env: { ...process.env, VAGRANT_CHECKPOINT_DISABLE: '1' } });
    expect(`${r.stdout}${r.stderr}`).toMatch(/Vagrantfile validated successfully/);
    expect(r.status).toBe(0);
  });

  // the trigger's Ruby nkey seeds (made on the Vagrant host) must be real nkeys: nats-server
  // accepts the users built from them and a host connects with its seed
  itUnless(ruby ? undefined : 'ruby is not installed (it comes with vagrant)')('seeds from scripts/vagrant/nkeys.rb authenticate against nats-server', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'plumb-vnk-'));
    dirs.push(dir);
    const creds = join(dir, 'creds');
    const r = spawnSync('ruby', ['-e', `require ${JSON.stringify(join(repo, 'scripts/vagrant/nkeys.rb'))}; PlumbNkeys.ensure(ARGV[0], %w[controller hv1])`, creds], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(statSync(seedPath(creds, 'hv1')).mode & 0o777).toBe(0o600);
    const before = spawnSync('cat', [seedPath(creds, 'hv1')], { encoding: 'utf8' }).stdout;
    expect(before).toMatch(/^SU[A-Z2-7]{56}\n$/);
    nats = await startNatsServer({ hosts: ['hv1'], dir }); // keeps the Ruby-made seeds
    expect(spawnSync('cat', [seedPath(creds, 'hv1')], { encoding: 'utf8' }).stdout).toBe(before);
    for (const name of [CONTROLLER_USER, 'hv1']) {
      const nc = await connectBus({ url: nats.url, seedFile: seedPath(creds, name), name, ...(name === 'hv1' ? { inboxPrefix: inboxPrefix('hv1') } : {}) });
      await nc.flush();
      await nc.close();
    }
  });

  it('provisioning scripts parse as bash', () => {
    const dir = join(repo, 'scripts', 'vagrant');
    const scripts = readdirSync(dir).filter((f) => f.endsWith('.sh'));
    expect(scripts.length).toBeGreaterThanOrEqual(3);
    for (const f of scripts) expect(spawnSync('bash', ['-n', join(dir, f)]).status, f).toBe(0);
  });
});
