// What the Ganeti hook reads before it talks to anyone: the NIC environment Ganeti sets and
// /etc/plumb/hook.yaml. Each refusal names the variable or the field.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadHookConfig } from '../../../src/hook/config.js';
import { parseGanetiNic } from '../../../src/hook/ganeti-env.js';

const dir = mkdtempSync(join(tmpdir(), 'plumb-hook-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

describe("Ganeti's NIC environment", () => {
  const env = { INSTANCE: 'i1', MAC: 'AA:00:01:02:03:04', MODE: 'routed', INTERFACE: 'tap3', INTERFACE_INDEX: '1', TAGS: 'a b', IP: '192.0.2.4', NETWORK_NAME: 'n' };
  it('reads the variables hv_base.ConfigureNIC sets', () => {
    expect(parseGanetiNic(env)).toEqual({ instance: 'i1', interface: 'tap3', mac: 'aa:00:01:02:03:04', mode: 'routed', index: 1, ip: '192.0.2.4', link: undefined, networkName: 'n', tags: ['a', 'b'] });
  });
  it.each([
    [{ MAC: undefined }, /^MAC: is not set/],
    [{ MAC: '01:02:03' }, /^MAC: '01:02:03' is not a MAC address$/],
    [{ MODE: '' }, /^MODE: is not set/],
    [{ INTERFACE: 'a-name-longer-than-15' }, /^INTERFACE: 'a-name-longer-than-15' is not an interface name \(interface names are at most 15 bytes/],
    [{ INTERFACE_INDEX: 'x' }, /^INTERFACE_INDEX: 'x' is not a NIC index$/],
  ])('refuses %o, naming the variable', (change, err) => {
    expect(() => parseGanetiNic({ ...env, ...change })).toThrow(err);
  });
});

describe('/etc/plumb/hook.yaml', () => {
  it('reads the password from passwordFile, trimmed, and defaults the host and the timeout', () => {
    const pw = file('pw', 'secret\n');
    const c = loadHookConfig(file('ok.yaml', `controller:\n  url: http://ctl.example:9696/\n  user: ganeti\n  passwordFile: ${pw}\n`));
    expect(c).toMatchObject({ url: 'http://ctl.example:9696', user: 'ganeti', password: 'secret', timeoutMs: 60_000 });
    expect(c.host.length).toBeGreaterThan(0);
  });
  it.each([
    ['both passwords', 'controller:\n  url: http://c:1\n  user: u\n  password: p\n  passwordFile: /x\n', /^config\.controller: give exactly one of password and passwordFile$/],
    ['a nats URL', 'controller:\n  url: nats://c:1\n  user: u\n  password: p\n', /^config\.controller\.url: an http:\/\/ or https:\/\/ URL$/],
    ['an unknown key', 'controller:\n  url: http://c:1\n  user: u\n  password: p\nhsot: x\n', /^config: /],
    ['an unreadable password file', 'controller:\n  url: http://c:1\n  user: u\n  passwordFile: /nonexistent/pw\n', /^config\.controller\.passwordFile: cannot read \/nonexistent\/pw: /],
  ])('refuses %s, naming the field', (_what, text, err) => {
    expect(() => loadHookConfig(file(`bad-${Math.random()}.yaml`, text))).toThrow(err);
  });
  it('the shipped example is valid: only its password file is missing on this machine', () => {
    const example = new URL('../../../config/hook.example.yaml', import.meta.url).pathname;
    expect(() => loadHookConfig(example)).toThrow(/^config\.controller\.passwordFile: cannot read \/etc\/plumb\/ganeti.password/);
  });
});
