// The systemd units pass `systemd-analyze verify`, and the agent speaks sd_notify: READY=1
// once running, STOPPING=1 on SIGTERM (received on a real unix datagram socket via socat).
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Netns } from '../helpers/netns.js';
import { LogTail, spawnPlumb } from '../helpers/topology.js';

const repo = new URL('../..', import.meta.url).pathname;
const netns = new Netns();
afterAll(() => netns.cleanup());

describe('systemd integration', () => {
  it('both units pass systemd-analyze verify', () => {
    // verify needs ExecStart's binary to exist: check copies pointing at this checkout's bin/plumb.js
    const dir = mkdtempSync(join(tmpdir(), 'plumb-units-'));
    const units = ['plumb-agent.service', 'plumb-controller.service'].map((u) => {
      const text = readFileSync(join(repo, 'systemd', u), 'utf8').replaceAll('/usr/bin/plumb', join(repo, 'bin', 'plumb.js'));
      writeFileSync(join(dir, u), text);
      return join(dir, u);
    });
    const r = spawnSync('systemd-analyze', ['verify', ...units], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('the agent notifies READY=1 when running and STOPPING=1 on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'plumb-notify-'));
    const sock = join(dir, 'notify.sock');
    const recv = spawn('socat', ['-u', `UNIX-RECV:${sock}`, 'STDOUT'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let got = '';
    recv.stdout?.on('data', (d: Buffer) => (got += d.toString()));
    await new Promise((r) => setTimeout(r, 300));
    const ns = netns.add('pt-sd');
    const state = join(dir, 'state.json');
    writeFileSync(state, JSON.stringify({ schemaVersion: 1, generation: 1, host: { name: 'h' }, networks: [], ports: [] }));
    const agent = spawnPlumb(['agent', 'run', '--state', state, '--netns', ns], { NOTIFY_SOCKET: sock });
    const log = new LogTail(agent);
    await log.waitFor((l) => l.msg === 'reconcile pass');
    await new Promise((r) => setTimeout(r, 200));
    expect(got).toMatch(/READY=1/);
    agent.kill('SIGTERM');
    const code = await new Promise((r) => agent.on('exit', r));
    await new Promise((r) => setTimeout(r, 200));
    recv.kill();
    expect(code).toBe(0);
    expect(got).toMatch(/STOPPING=1/);
  });
});
