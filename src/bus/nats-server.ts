// Debian's nats-server, started with a generated config on a free loopback port and a store
// directory of its own: for tests, benchmarks and the lab. Stopped by pid.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { NatsServerStartError } from './errors.js';
import { generateCredentials, type Identity } from './credentials.js';
import { serverConfig, type ServerConfigOptions } from './server-config.js';

export const NATS_SERVER_BIN = process.env.PLUMB_NATS_SERVER ?? '/usr/sbin/nats-server';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export interface NatsServer {
  url: string;
  port: number;
  pid: number;
  dir: string;
  credsDir: string;
  identities: Identity[];
  configPath: string;
  stop(): Promise<void>;
  /** SIGKILL, as a crash drill needs; restart() starts it again on the same store */
  kill(): Promise<void>;
  destroy(): Promise<void>;
  /** Start again on the same port and store (after stop), or stop and start. */
  restart(): Promise<void>;
}

async function waitListening(port: number, timeoutMs: number, child: ChildProcess): Promise<void> {
  const start = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw new NatsServerStartError(`nats-server exited with code ${child.exitCode} before listening on ${port}`);
    const ok = await new Promise<boolean>((resolve) => {
      const c = connect(port, '127.0.0.1');
      c.once('connect', () => (c.destroy(), resolve(true)));
      c.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() - start > timeoutMs) throw new NatsServerStartError(`nats-server did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Start nats-server with JetStream and nkey users for the controller and `hosts`.
 * `detached`: the server outlives this process (the lab); logs go to <dir>/nats-server.log.
 */
export interface NatsServerOptions {
  hosts: string[];
  dir?: string;
  port?: number;
  detached?: boolean;
  tls?: { cert: string; key: string; ca?: string };
  /** credentials made already (the nodes of a cluster share them); default: made here for `hosts` */
  credentials?: { dir: string; identities: Identity[] };
  cluster?: ServerConfigOptions['cluster'];
}

export async function startNatsServer(opts: NatsServerOptions): Promise<NatsServer> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'plumb-nats-'));
  const port = opts.port ?? (await freePort());
  const credsDir = opts.credentials?.dir ?? join(dir, 'creds');
  const identities = opts.credentials?.identities ?? generateCredentials(credsDir, opts.hosts);
  const configPath = join(dir, 'nats-server.conf');
  writeFileSync(configPath, serverConfig(identities, { port, storeDir: join(dir, 'jetstream'), ...(opts.tls ? { tls: opts.tls } : {}), ...(opts.cluster ? { cluster: opts.cluster } : {}) }));
  let child: ChildProcess;
  const launch = async (): Promise<void> => {
    const log = openSync(join(dir, 'nats-server.log'), 'a');
    child = spawn(NATS_SERVER_BIN, ['-c', configPath], { stdio: ['ignore', log, log], detached: opts.detached ?? false });
    child.once('error', () => undefined);
    if (opts.detached) child.unref();
    await waitListening(port, 10_000, child);
  };
  await launch();
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  const kill = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  };
  return {
    url: `${opts.tls ? 'tls' : 'nats'}://127.0.0.1:${port}`,
    port,
    get pid() {
      return child.pid ?? -1;
    },
    dir,
    credsDir,
    identities,
    configPath,
    /** Stop the process; the store stays (restart() starts it again). */
    stop,
    kill,
    /** Stop and remove the temporary directory (when this module made it). */
    destroy: async () => {
      await stop();
      if (!opts.dir) rmSync(dir, { recursive: true, force: true });
    },
    restart: async () => {
      await stop();
      await launch();
    },
  };
}
