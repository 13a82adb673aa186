// TLS on the bus: nats-server with a self-signed certificate (made with openssl), the
// controller connecting over tls:// with the CA pinned, and a client without that CA refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { startNatsServer, type NatsServer } from '../../src/bus/nats-server.js';
import { connectBus } from '../../src/bus/connection.js';
import { CONTROLLER_USER, seedPath } from '../../src/bus/credentials.js';
import { BUCKET } from '../../src/bus/layout.js';
import { DesiredStatePublisher } from '../../src/bus/publisher.js';
import { FakeHooks, hostDoc } from './fake-hooks.js';
import { describeUnless } from '../helpers/skip.js';

const openssl = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

const certDir = mkdtempSync(join(tmpdir(), 'plumb-tls-'));
let server: NatsServer | undefined;
const conns: NatsConnection[] = [];

beforeAll(async () => {
  if (!openssl) return;
  // the certificate names 127.0.0.1, which is what the client dials
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=plumb-test', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', join(certDir, 'key.pem'), '-out', join(certDir, 'cert.pem')], { stdio: 'ignore' });
  server = await startNatsServer({ hosts: ['h1'], tls: { cert: join(certDir, 'cert.pem'), key: join(certDir, 'key.pem') } });
});

afterAll(async () => {
  for (const c of conns) await c.close().catch(() => undefined);
  await server?.destroy();
  rmSync(certDir, { recursive: true, force: true });
});

describeUnless(openssl ? undefined : 'openssl is not installed: cannot make a test certificate')('bus over TLS', () => {
  it('the controller publishes desired state over tls:// with the CA pinned', async () => {
    if (!server) throw new Error('server not started');
    expect(server.url).toMatch(/^tls:\/\//);
    const nc = await connectBus({ url: server.url, seedFile: seedPath(server.credsDir, CONTROLLER_USER), name: 'controller', tls: { ca: join(certDir, 'cert.pem') } });
    conns.push(nc);
    expect(nc.info?.tls_required).toBe(true);
    const hooks = new FakeHooks();
    hooks.set('h1', hostDoc('h1', 4, [{ id: 'p1', mac: 'aa:00:01:00:00:01' }]));
    const pub = new DesiredStatePublisher(nc, hooks);
    await pub.start();
    const kv = await new Kvm(nc).open(BUCKET);
    expect((await kv.get('h1.meta'))?.json<{ generation: number }>().generation).toBe(4);
    await pub.stop();
  });

  it('a client that does not trust the certificate is refused', async () => {
    if (!server) throw new Error('server not started');
    // a plain connect (connectBus waits for the first connection forever, as a daemon should)
    await expect(connect({ servers: server.url, name: 'untrusting', tls: {}, maxReconnectAttempts: 0, timeout: 3000 })).rejects.toThrow(/certificate|self.signed|tls/i);
  });
});
