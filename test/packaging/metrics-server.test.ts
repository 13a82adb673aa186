// startMetricsServer over real HTTP on loopback with the controller's registry: the text
// exposition carries current values, other paths are 404, and a taken port is an error.
import { afterAll, describe, expect, it } from 'vitest';
import type { Server } from 'node:http';
import { controllerMetrics, startMetricsServer } from '../../src/metrics/registry.js';
import { freePort } from '../../src/bus/nats-server.js';
import { caller, testController } from '../controller/fixture.js';

const servers: Server[] = [];
afterAll(async () => {
  for (const s of servers) await new Promise((r) => s.close(r));
});

describe('metrics server', () => {
  it('serves the controller metrics with current values', async () => {
    const m = controllerMetrics();
    const port = await freePort();
    servers.push(await startMetricsServer(m.registry, `127.0.0.1:${port}`));
    m.hostsAlive.set(2);
    m.ports.set({ status: 'ACTIVE' }, 5);
    m.ports.set({ status: 'BUILD' }, 1);
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/^plumb_controller_hosts_alive 2$/m);
    expect(text).toMatch(/^plumb_controller_ports\{status="ACTIVE"\} 5$/m);
    expect(text).toMatch(/^plumb_controller_ports\{status="BUILD"\} 1$/m);
    expect(text).toMatch(/^plumb_controller_process_cpu_seconds_total /m);
    m.hostsAlive.set(1);
    expect(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).toMatch(/^plumb_controller_hosts_alive 1$/m);
    expect((await fetch(`http://127.0.0.1:${port}/other`)).status).toBe(404);
  });

  it('reads hosts alive from the controller hooks at every scrape', async () => {
    let hosts = [{ id: 'h1', alive: true }, { id: 'h2', alive: true }, { id: 'h3', alive: false }];
    const m = controllerMetrics(undefined, { hosts: () => Promise.resolve(hosts) });
    const port = await freePort();
    servers.push(await startMetricsServer(m.registry, `127.0.0.1:${port}`));
    expect(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).toMatch(/^plumb_controller_hosts_alive 2$/m);
    hosts = [{ id: 'h1', alive: false }];
    expect(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).toMatch(/^plumb_controller_hosts_alive 0$/m);
  });

  it('fails to start on a port that is taken', async () => {
    const port = await freePort();
    servers.push(await startMetricsServer(controllerMetrics().registry, `127.0.0.1:${port}`));
    await expect(startMetricsServer(controllerMetrics().registry, `127.0.0.1:${port}`)).rejects.toThrow(/EADDRINUSE/);
  });

  it('a running controller serves its ports by status, counted at every scrape', async () => {
    const port = await freePort();
    const ctl = await testController({ metrics: { listen: `127.0.0.1:${port}` } });
    try {
      const api = caller(ctl.url, 'alice', 'pw-a');
      const net = await api('POST', '/v2.0/networks', { network: { name: 'm' } });
      expect(net.status).toBe(201);
      for (const d of ['d1', 'd2']) expect((await api('POST', '/v2.0/ports', { port: { network_id: net.body.network.id, device_id: d } })).status).toBe(201);
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(text).toMatch(/^plumb_controller_ports\{status="BUILD"\} 2$/m);
      expect(text).toMatch(/^plumb_controller_http_requests_total\{method="POST",code="201"\} 3$/m);
    } finally {
      await ctl.close();
    }
  });
});
