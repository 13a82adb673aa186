// The Vagrantfile is valid for vagrant (offline `vagrant validate`), and its provisioning
// scripts are valid shell.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { itUnless } from '../helpers/skip.js';

const repo = new URL('../..', import.meta.url).pathname;
const vagrant = ['/usr/bin/vagrant', '/usr/local/bin/vagrant'].find(existsSync);

describe('Vagrantfile', () => {
  // No provider (VirtualBox, libvirt) exists on this machine, so provider blocks are ignored,
  // which `vagrant validate --ignore-provider` does; the rest of the file is checked.
  itUnless(vagrant ? undefined : 'vagrant is not installed (scripts/apt-packages.txt installs it)')('passes vagrant validate', () => {
    const r = spawnSync(vagrant as string, ['validate', '--ignore-provider'], { cwd: repo, encoding: 'utf8', env: { ...process.env, VAGRANT_CHECKPOINT_DISABLE: '1' } });
    expect(`${r.stdout}${r.stderr}`).toMatch(/Vagrantfile validated successfully/);
    expect(r.status).toBe(0);
  });

  it('provisioning scripts parse as bash', () => {
    const dir = join(repo, 'scripts', 'vagrant');
    const scripts = readdirSync(dir).filter((f) => f.endsWith('.sh'));
    expect(scripts.length).toBeGreaterThanOrEqual(3);
    for (const f of scripts) expect(spawnSync('bash', ['-n', join(dir, f)]).status, f).toBe(0);
  });
});
