// The agent's Prometheus endpoint serves the documented metrics with real values.
import { afterAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../src/bus/nats-server.js';
import { Netns } from '../helpers/netns.js';
import { LogTail, spawnPlumb, tempDir } from '../helpers/topology.js';

const netns = new Netns();
afterAll(() => netns.cleanup());

describe('agent metrics', () => {
  it('serves reconcile, op, error and port metrics on /metrics', async () => {
    const ns = netns.add('pt-met');
    const dir = tempDir();
    const port = await freePort();
    writeFileSync(
      join(dir, 'state.json'),
      JSON.stringify({
        schemaVersion: 1,
        generation: 1,
        host: { name: 'h' },
        networks: [{ id: 'n', type: 'MAC_FILTERED', macPrefix: 'aa:00:09' }],
        ports: [{ id: 'ok', network: 'n', mac: 'aa:00:09:00:00:01' }, { id: 'bad', network: 'n', mac: 'aa:00:01:00:00:01' }],
      }),
    );
    writeFileSync(join(dir, 'agent.yaml'), `host: h\nstateFile: ${join(dir, 'state.json')}\nnetns: ${ns}\nmetrics:\n  listen: 127.0.0.1:${port}\n`);
    const agent = spawnPlumb(['agent', 'run', '--config', join(dir, 'agent.yaml')]);
    try {
      await new LogTail(agent).waitFor((l) => l.msg === 'reconcile pass');
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(text).toMatch(/^plumb_agent_reconcile_passes_total [1-9]/m);
      expect(text).toMatch(/^plumb_agent_ops_applied_total [1-9]/m);
      // counted in every pass that saw the rejection
      expect(text).toMatch(/^plumb_agent_errors_total\{kind="rejected"\} [1-9]/m);
      expect(text).toMatch(/^plumb_agent_ports\{status="ACTIVE"\} 1$/m);
      expect(text).toMatch(/^plumb_agent_ports\{status="ERROR"\} 1$/m);
      expect(text).toMatch(/^plumb_agent_reconcile_duration_seconds_count [1-9]/m);
    } finally {
      agent.kill('SIGTERM');
      await new Promise((r) => agent.on('exit', r));
    }
  });
});
