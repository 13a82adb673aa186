// The agent daemon's config: the shipped example loads, and each kind of mistake is refused
// with the field named.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAgentConfig } from '../../src/agent-config/load.js';

const repo = new URL('../..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'plumb-agentcfg-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function load(text: string): ReturnType<typeof loadAgentConfig> {
  const p = join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(p, text);
  return loadAgentConfig(p);
}

describe('agent config', () => {
  it('the example config loads with its defaults', () => {
    const c = loadAgentConfig(join(repo, 'config', 'agent.example.yaml'));
    expect(c.host).toBe('hv1');
    expect(c.nats?.url).toBe('nats://controller.example:4222');
    expect(c.nats?.seedFile).toBe('/etc/plumb/creds/hv1.nk');
    expect(c.underlay.address).toBe('10.90.0.1');
    expect(c.heartbeatSeconds).toBe(5);
  });

  it.each([
    ['a host id that is not a KV key token', 'host: hv.1\nstateFile: /s.json\n', /config\.host: host ids are letters/],
    ['a non-NATS url', 'host: hv1\nnats: { url: http://x:4222, seedFile: /k }\n', /config\.nats\.url: a nats:\/\/ or tls:\/\/ URL/],
    ['a missing seed file', 'host: hv1\nnats: { url: nats://x:4222 }\n', /config\.nats\.seedFile/],
    ['neither nats nor stateFile', 'host: hv1\n', /config\.nats: set nats \(controller-driven\) or stateFile/],
    ['an unknown field', 'host: hv1\nstateFile: /s.json\nheartbeat: 3\n', /config: .*heartbeat/i],
    ['a bad underlay address', 'host: hv1\nstateFile: /s.json\nunderlay: { address: 10.0.0.300 }\n', /config\.underlay\.address/],
    ['a metrics listen without a port', 'host: hv1\nstateFile: /s.json\nmetrics: { listen: localhost }\n', /config\.metrics\.listen: host:port/],
  ])('refuses %s, naming the field', (_what, text, message) => {
    expect(() => load(text)).toThrow(message);
  });

  it('refuses a file that is not YAML, naming the file', () => {
    expect(() => load('host: [unclosed\n')).toThrow(/cannot read agent config/);
    expect(() => loadAgentConfig(join(dir, 'missing.yaml'))).toThrow(/missing\.yaml.*cannot read agent config/);
  });
});
