// 64 concurrent clients creating and deleting ports and floating IPs on one small subnet: no
// address or MAC is ever handed out twice, quotas stay exact, and the pools are free at the end.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningController } from '../../src/controller/server.js';
import { caller, testController } from './fixture.js';
import { PostgresStore } from '../../src/controller/pg-store.js';

let ctl: RunningController;
beforeAll(async () => {
  ctl = await testController({ quotas: { networks: 5, floatingIps: 8 }, users: [{ name: 'admin', password: 'a', project: 'admin', roles: ['admin'] }, { name: 'alice', password: 'pw-a', project: 'p1' }] });
});
afterAll(async () => ctl?.close());

describe('concurrency', () => {
  it('64 clients, 20 rounds each: no duplicate address or MAC, exact quotas, pools free at the end', async () => {
    const alice = caller(ctl.url, 'alice', 'pw-a');
    const net = (await alice('POST', '/v2.0/networks', { network: { name: 'small', cidr: '10.9.0.0/27' } })).body.network as { id: string };
    const held = new Map<string, string>(); // address -> port, while held
    const macs = new Map<string, string>();
    let duplicates = 0;
    let fipCreated = 0;
    let fipRefused = 0;
    const worker = async (w: number): Promise<void> => {
      for (let round = 0; round < 20; round++) {
        const r = await alice('POST', '/v2.0/ports', { port: { network_id: net.id, device_id: `d${w}` } });
        if (r.status === 201) {
          const ip = r.body.port.fixed_ips[0].ip_address as string;
          const mac = r.body.port.mac_address as string;
          if (held.has(ip) || macs.has(mac)) duplicates++;
          held.set(ip, r.body.port.id);
          macs.set(mac, r.body.port.id);
          await new Promise((res) => setTimeout(res, Math.random() * 3));
          held.delete(ip);
          macs.delete(mac);
          expect((await alice('DELETE', `/v2.0/ports/${r.body.port.id}`)).status).toBe(204);
        } else {
          expect(r.status).toBe(409); // the /27 pool is momentarily exhausted
        }
        if (round % 5 === w % 5) {
          const f = await alice('POST', '/v2.0/floatingips', { floatingip: {} });
          if (f.status === 201) {
            fipCreated++;
            expect((await alice('DELETE', `/v2.0/floatingips/${f.body.floatingip.id}`)).status).toBe(204);
          } else {
            expect(f.status).toBe(413);
            fipRefused++;
          }
        }
      }
    };
    await Promise.all(Array.from({ length: 64 }, (_, w) => worker(w)));
    const store = ctl.service.store;
    if (store instanceof PostgresStore) console.log(`PostgreSQL: ${store.counters().units} units, ${store.counters().retries} run again after a collision`);
    expect(duplicates).toBe(0);
    expect(fipCreated).toBeGreaterThan(0);
    expect(fipCreated + fipRefused).toBe(64 * 4);
    expect((await alice('GET', '/v2.0/ports')).body.ports).toEqual([]);
    expect((await alice('GET', '/v2.0/floatingips')).body.floatingips).toEqual([]);
    // the whole pool is free again: its 30 addresses (a /27 without gateway) can be taken at once
    const taken = await Promise.all(Array.from({ length: 30 }, () => alice('POST', '/v2.0/ports', { port: { network_id: net.id } })));
    expect(taken.every((t) => t.status === 201)).toBe(true);
    expect(new Set(taken.map((t) => t.body.port.fixed_ips[0].ip_address)).size).toBe(30);
    expect((await alice('POST', '/v2.0/ports', { port: { network_id: net.id } })).status).toBe(409);
  }, 120_000);
});
