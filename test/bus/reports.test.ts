// Report messages from agents are validated whole before the controller acts on them.
import { describe, expect, it } from 'vitest';
import { parseHeartbeatMessage, parseStatusMessage } from '../../src/bus/reports.js';

const enc = (v: unknown): Uint8Array => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v));

describe('report messages', () => {
  it('accepts well-formed status reports and heartbeats', () => {
    expect(parseStatusMessage(enc({ generation: 3, ports: [{ id: 'p1', status: 'ERROR', reason: 'mac: outside prefix', revision: 2 }] }))).toEqual({
      generation: 3,
      ports: [{ id: 'p1', status: 'ERROR', reason: 'mac: outside prefix', revision: 2 }],
    });
    expect(parseHeartbeatMessage(enc({ version: '0.1.0', underlayAddress: '10.0.0.1' }))).toEqual({ version: '0.1.0', underlayAddress: '10.0.0.1' });
  });

  it.each([
    ['not JSON', '{', /^status: not JSON$/],
    // DOWN is an agent's word for a port waiting on its VM manager; BUILD is the controller's alone
    ['an unknown status', { generation: 1, ports: [{ id: 'p', status: 'BUILD', revision: 0 }] }, /^status\.ports\.0\.status: /],
    ['a negative generation', { generation: -1, ports: [] }, /^status\.generation: /],
    ['a port id with a dot', { generation: 1, ports: [{ id: 'a.b', status: 'ACTIVE', revision: 0 }] }, /^status\.ports\.0\.id: a port id$/],
    ['an extra field', { generation: 1, ports: [], host: 'h1' }, /^status: /],
  ])('refuses a status with %s, naming the field', (_what, msg, err) => {
    expect(() => parseStatusMessage(enc(msg))).toThrow(err);
  });

  it('refuses a heartbeat without a version', () => {
    expect(() => parseHeartbeatMessage(enc({ underlayAddress: '10.0.0.1' }))).toThrow(/^heartbeat\.version: /);
  });
});
