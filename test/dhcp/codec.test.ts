// The DHCP codec and policy, pure: parse(serialize(m)) round-trips (fast-check), RFC 3442
// routes round-trip, the `dhcp` npm package (test oracle only, never shipped) reads our
// replies, and 100,000 random and mutated packets never crash parse+policy nor produce a reply
// to anything malformed.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MessageType, parseMessage, serializeMessage, type DhcpMessage } from '../../src/dhcp/codec/message.js';
import { OPT, classlessRoutesOption, decodeClasslessRoutes } from '../../src/dhcp/codec/options.js';
import { answer } from '../../src/dhcp/policy.js';
import { buildBindings } from '../../src/dhcp/bindings.js';
import { validateHostState } from '../../src/state/validate.js';

const ip = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((t) => t.join('.'));
const mac = fc.array(fc.nat(255), { minLength: 6, maxLength: 6 }).map((b) => b.map((x) => x.toString(16).padStart(2, '0')).join(':'));
const message: fc.Arbitrary<DhcpMessage> = fc.record({
  op: fc.constantFrom(1 as const, 2 as const),
  xid: fc.nat(0xffffffff),
  secs: fc.nat(0xffff),
  flags: fc.constantFrom(0, 0x8000),
  ciaddr: ip,
  yiaddr: ip,
  siaddr: ip,
  giaddr: ip,
  chaddr: mac,
  options: fc
    .array(fc.tuple(fc.integer({ min: 1, max: 254 }), fc.uint8Array({ maxLength: 300 })), { maxLength: 8 })
    .map((kv) => new Map(kv.map(([k, v]) => [k, Buffer.from(v)] as [number, Buffer]))),
});

const state = validateHostState({
  schemaVersion: 1,
  host: { name: 'h' },
  networks: [{ id: 'n', type: 'IP_LESS_ROUTED', uplink: 'up', routingTable: 100, subnets: [{ cidr: '203.0.113.0/24', gateway: '203.0.113.1', dns: ['203.0.113.53'] }] }],
  ports: [{ id: 'p', network: 'n', mac: 'aa:00:00:00:00:01', addresses: ['203.0.113.7'] }],
}).state;
const table = buildBindings(state);

function discover(overrides: Partial<DhcpMessage> = {}): DhcpMessage {
  return { op: 1, xid: 42, secs: 0, flags: 0, ciaddr: '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: '0.0.0.0', chaddr: 'aa:00:00:00:00:01', options: new Map([[OPT.MESSAGE_TYPE, Buffer.from([MessageType.DISCOVER])]]), ...overrides };
}

describe('DHCP codec', () => {
  it('parse(serialize(m)) round-trips', () => {
    fc.assert(
      fc.property(message, (m) => {
        const back = parseMessage(serializeMessage(m));
        expect(back).toBeDefined();
        expect({ ...back, options: [...(back?.options ?? [])].map(([k, v]) => [k, v.toString('hex')]) }).toEqual({ ...m, options: [...m.options].map(([k, v]) => [k, v.toString('hex')]) });
      }),
      { numRuns: 500 },
    );
  });

  it('RFC 3442 classless routes round-trip', () => {
    const routes = [
      { destination: '0.0.0.0/0', nexthop: '203.0.113.1' },
      { destination: '10.0.0.0/8', nexthop: '203.0.113.2' },
      { destination: '198.51.100.128/25', nexthop: '203.0.113.3' },
    ];
    expect(decodeClasslessRoutes(classlessRoutesOption(routes))).toEqual(routes);
    // RFC 3442's own example: 10.17.0.0/16 via 10.0.0.1 -> 16 10 17 10 0 0 1
    expect([...classlessRoutesOption([{ destination: '10.17.0.0/16', nexthop: '10.0.0.1' }])]).toEqual([16, 10, 17, 10, 0, 0, 1]);
  });

  it('the independent `dhcp` package parses our OFFER', async () => {
    const out = answer(table, 'tapp', discover());
    expect(out.kind).toBe('reply');
    if (out.kind !== 'reply') return;
    const Protocol = await import('dhcp/lib/protocol.js');
    const parsed = Protocol.parse(serializeMessage(out.message));
    expect(parsed.yiaddr).toBe('203.0.113.7');
    expect(parsed.options[1]).toBe('255.255.255.0');
    expect(parsed.options[54]).toBe('203.0.113.1');
    expect(parsed.options[53]).toBe(MessageType.OFFER);
  });

  it('100,000 random and mutated packets: no crash, no reply to anything malformed', () => {
    const good = serializeMessage(discover());
    let replies = 0;
    let parsed = 0;
    let seed = 12345;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let i = 0; i < 100_000; i++) {
      let pkt: Buffer;
      if (i % 2 === 0) {
        pkt = Buffer.from(good);
        for (let k = 0, n = 1 + rnd(8); k < n; k++) pkt[rnd(pkt.length)] = rnd(256);
        if (i % 6 === 0) pkt = pkt.subarray(0, rnd(pkt.length));
      } else {
        pkt = Buffer.alloc(rnd(600));
        for (let k = 0; k < pkt.length; k++) pkt[k] = rnd(256);
      }
      const m = parseMessage(pkt);
      if (!m) continue;
      parsed++;
      const out = answer(table, 'tapp', m);
      if (out.kind === 'reply') {
        replies++;
        // a reply only ever goes to the bound MAC with the bound address
        expect(out.binding.mac).toBe('aa:00:00:00:00:01');
        expect(m.chaddr).toBe('aa:00:00:00:00:01');
      }
    }
    // mutations that keep the packet well-formed may still be answered; random noise never is
    expect(parsed).toBeGreaterThan(0);
    expect(replies).toBeLessThan(parsed);
  });
});
