// Restarting the controller during a burst of port creations: every created port keeps a
// unique address and MAC, nothing half-created survives, and no address is leaked.
import { describe, expect, it } from 'vitest';
import { parseControllerConfig } from '../../src/controller/config.js';
import { startController } from '../../src/controller/server.js';
import { caller, testStore } from './fixture.js';
import { rawSql } from '../helpers/raw-sql.js';

describe('controller restart during a burst', () => {
  it('no address or MAC allocated twice, none leaked', async () => {
    const where = await testStore();
    const cfg = parseControllerConfig({ listen: '127.0.0.1:0', ...where, users: [{ name: 'u', password: 'p', project: 'p1' }], quotas: { networks: 5, devicesPerNetwork: 10_000, nicsPerDevice: 100 } });
    let ctl = await startController(cfg);
    const net = (await caller(ctl.url, 'u', 'p')('POST', '/v2.0/networks', { network: { name: 'n', cidr: '10.20.0.0/22' } })).body.network as { id: string };
    const results: number[] = [];
    const burst = async (url: string, n: number): Promise<void> => {
      const c = caller(url, 'u', 'p');
      await Promise.all(
        Array.from({ length: n }, async (_, i) => {
          try {
            results.push((await c('POST', '/v2.0/ports', { port: { network_id: net.id, device_id: `d${i % 50}` } })).status);
          } catch {
            results.push(-1); // the connection went away with the old process
          }
        }),
      );
    };
    const first = burst(ctl.url, 300);
    await new Promise((r) => setTimeout(r, 30));
    await ctl.close(); // mid-burst
    await first;
    ctl = await startController(cfg);
    await burst(ctl.url, 300);
    // read back from the store as the restarted controller left it (SQLite file or PostgreSQL)
    const store = ctl.service.store;
    const one = async (sql: string): Promise<unknown[]> => rawSql(store, sql);
    const ips = await one('SELECT ip, COUNT(*) c FROM fixed_ips GROUP BY ip HAVING COUNT(*) > 1');
    const macs = await one('SELECT mac, COUNT(*) c FROM ports GROUP BY mac HAVING COUNT(*) > 1');
    const orphans = (await one('SELECT COUNT(*) c FROM fixed_ips WHERE port_id NOT IN (SELECT id FROM ports)'))[0] as { c: number | string };
    const portless = (await one('SELECT COUNT(*) c FROM ports WHERE id NOT IN (SELECT port_id FROM fixed_ips)'))[0] as { c: number | string };
    const ports = Number(((await one('SELECT COUNT(*) c FROM ports'))[0] as { c: number | string }).c);
    await ctl.close();
    expect(ips).toEqual([]);
    expect(macs).toEqual([]);
    expect(Number(orphans.c)).toBe(0);
    expect(Number(portless.c)).toBe(0); // no port committed without its address
    // every 201 the clients saw is a port in the store, and nothing else is
    expect(ports).toBe(results.filter((s) => s === 201).length);
    expect(results.filter((s) => s === 201).length).toBeGreaterThanOrEqual(300);
  }, 60_000);
});
