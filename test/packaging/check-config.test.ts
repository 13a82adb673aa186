// `plumb agent|controller check-config`, which the packaged units run as ExecCondition: the
// exit status tells systemd to skip the start (1: the file sets nothing, as the package ships it),
// to fail (255: invalid, the field named on stderr) or to start (0). Real CLI processes.
import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runPlumb, tempDir } from '../helpers/topology.js';
import { hashPassword } from '../../src/controller/auth.js';

const repo = new URL('../..', import.meta.url).pathname;
const dir = tempDir();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

/** The shipped example with every setting commented out, as scripts/package.sh installs it. */
function commentedOut(example: string): string {
  return readFileSync(join(repo, 'config', example), 'utf8').replace(/^([^#\s]|[ \t]+[^#\s])/gm, '#$1');
}

describe('check-config --exec-condition', () => {
  it.each(['agent', 'controller'])('%s: a file that sets nothing skips the start (exit 1) and says what to do', async (role) => {
    const p = file(`${role}-unconfigured.yaml`, commentedOut(`${role}.example.yaml`));
    const r = await runPlumb([role, 'check-config', '--exec-condition', '--config', p]);
    expect(r.stderr).toBe(`plumb: ${p}: the ${role} config sets nothing yet (every setting is commented out); edit it first\n`);
    expect(r.code).toBe(1);
  });

  it('an invalid file fails the unit (exit 255), naming the field; without --exec-condition it is exit 1', async () => {
    const p = file('agent-invalid.yaml', 'host: hv.1\nstateFile: /s.json\n');
    const r = await runPlumb(['agent', 'check-config', '--exec-condition', '--config', p]);
    expect(r.stderr).toMatch(/^plumb: config\.host: host ids are letters/);
    expect(r.code).toBe(255);
    expect((await runPlumb(['agent', 'check-config', '--config', p])).code).toBe(1);
  });

  it('a valid file starts (exit 0) and says what it configures', async () => {
    const p = file('agent-valid.yaml', 'host: hv1\nstateFile: /etc/plumb/state.json\n');
    const r = await runPlumb(['agent', 'check-config', '--exec-condition', '--config', p]);
    expect(r.stdout).toBe(`${p}: valid (host hv1, state file /etc/plumb/state.json)\n`);
    expect(r.code).toBe(0);
  });

  it("the controller example, uncommented, is refused until the admin's password hash is set; then it is valid", async () => {
    const example = readFileSync(join(repo, 'config', 'controller.example.yaml'), 'utf8');
    const asShipped = await runPlumb(['controller', 'check-config', '--exec-condition', '--config', file('ctl-example.yaml', example)]);
    expect(asShipped.stderr).toMatch(/^plumb: config\.users\.0\.passwordHash: not a hash from plumb controller hash-password/);
    expect(asShipped.code).toBe(255);
    const set = example.replace(/passwordHash: "[^"]*"/, `passwordHash: "${hashPassword('pw')}"`);
    const r = await runPlumb(['controller', 'check-config', '--exec-condition', '--config', file('ctl-set.yaml', set)]);
    expect(r.stdout).toMatch(/valid \(1 public networks, 1 users, listen 127\.0\.0\.1:9696\)/);
    expect(r.code).toBe(0);
  });

  it('the daemons themselves refuse to run on a file that sets nothing', async () => {
    const p = file('ctl-empty.yaml', '# nothing here\n');
    const r = await runPlumb(['controller', 'run', '--config', p]);
    expect(r.stderr).toMatch(/the controller config sets nothing yet/);
    expect(r.code).toBe(1);
  });
});
