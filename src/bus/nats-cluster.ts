// A NATS cluster of Debian's nats-server on loopback ports (JetStream, one store per node), for
// tests, benchmarks and the HA lab: every node has the same accounts and host credentials, so any
// identity works on any node, and clients are given every node's URL.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager, StorageType } from '@nats-io/jetstream';
import { errorMessage } from '../util/errors.js';
import { connectBus } from './connection.js';
import { CONTROLLER_USER, generateCredentials, seedPath } from './credentials.js';
import { NatsServerStartError } from './errors.js';
import { freePort, startNatsServer, type NatsServer } from './nats-server.js';

export interface NatsCluster {
  nodes: NatsServer[];
  /** every node's client URL */
  urls: string[];
  credsDir: string;
  destroy(): Promise<void>;
}

/**
 * Until a stream replicated on every node can be made: the cluster has elected its JetStream meta
 * leader and knows every peer (before that, creating the bucket fails: "no suitable peers").
 */
async function jetStreamReady(urls: string[], credsDir: string, timeoutMs: number): Promise<void> {
  const nc = await connectBus({ url: urls, seedFile: seedPath(credsDir, CONTROLLER_USER), name: 'plumb-cluster-check' });
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const jsm = await jetstreamManager(nc, { timeout: 1000 });
        await jsm.streams.add({ name: 'plumb-cluster-check', subjects: ['plumb.cluster-check'], num_replicas: urls.length, storage: StorageType.Memory });
        await jsm.streams.delete('plumb-cluster-check');
        return;
      } catch (err) {
        if (Date.now() > deadline) throw new NatsServerStartError(`the NATS cluster has no JetStream leader after ${timeoutMs} ms: ${errorMessage(err)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } finally {
    await nc.close();
  }
}

export async function startNatsCluster(opts: { hosts: string[]; size?: number; dir?: string; name?: string; detached?: boolean }): Promise<NatsCluster> {
  const size = opts.size ?? 3;
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'plumb-nats-cluster-'));
  const credsDir = join(dir, 'creds');
  const identities = generateCredentials(credsDir, opts.hosts);
  const ports = await Promise.all(Array.from({ length: size }, () => freePort()));
  const routePorts = await Promise.all(Array.from({ length: size }, () => freePort()));
  const routes = routePorts.map((p) => `nats-route://127.0.0.1:${p}`);
  const nodes = await Promise.all(
    ports.map((port, i) => {
      const nodeDir = join(dir, `n${i + 1}`);
      mkdirSync(nodeDir, { recursive: true });
      return startNatsServer({
        hosts: opts.hosts,
        dir: nodeDir,
        port,
        ...(opts.detached ? { detached: true } : {}),
        credentials: { dir: credsDir, identities },
        cluster: { name: opts.name ?? 'plumb', serverName: `n${i + 1}`, port: routePorts[i] as number, routes: routes.filter((_, j) => j !== i) },
      });
    }),
  );
  await jetStreamReady(nodes.map((n) => n.url), credsDir, 30_000);
  return {
    nodes,
    urls: nodes.map((n) => n.url),
    credsDir,
    async destroy() {
      await Promise.all(nodes.map((n) => n.stop()));
      if (!opts.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
