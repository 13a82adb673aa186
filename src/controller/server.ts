// The controller process: store, service, HTTP API and (when configured) the NATS publisher.
import { errorMessage } from '../util/errors.js';
import type { Server } from 'node:http';
import type { NatsConnection } from '@nats-io/transport-node';
import { logger } from '../util/log.js';
import { connectBus } from '../bus/connection.js';
import type { DesiredStatePublisher } from '../bus/publisher.js';
import { startPublishing, type Publishing } from './publishing.js';
import { closeBus } from '../bus/close.js';
import { controllerMetrics, startMetricsServer } from '../metrics/registry.js';
import { authenticator } from './auth.js';
import { LoginThrottle } from './login-throttle.js';
import { storeConfig, type ControllerConfig } from './config.js';
import { controllerHooks } from './controller-hooks.js';
import type { ControllerHooks } from '../state/controller-hooks.js';
import { createApiServer, routes } from './http.js';
import { ControllerService } from './service.js';
import { openStore } from './open-store.js';

export interface RunningController {
  url: string;
  hooks: ControllerHooks;
  service: ControllerService;
  /** present when the config has a bus and this controller publishes (on PostgreSQL: holds the lease) */
  readonly publisher: DesiredStatePublisher | undefined;
  /** present when the config has a bus */
  publishing: Publishing | undefined;
  close(): Promise<void>;
}

/** How long a live-migration switch waits for the old host's agent before completing anyway. */
export const SWITCH_TIMEOUT_MS = 5_000;

export async function startController(cfg: ControllerConfig): Promise<RunningController> {
  const log = logger('controller');
  const store = await openStore(storeConfig(cfg), logger('controller-store'));
  const service = await ControllerService.open(store, cfg);
  const hooks = controllerHooks(service, logger('controller-hooks'));
  const metrics = controllerMetrics(undefined, hooks, () => store.read((r) => r.portsByStatus()), () => store.counters());
  const [host, portText] = [cfg.listen.slice(0, cfg.listen.lastIndexOf(':')), cfg.listen.slice(cfg.listen.lastIndexOf(':') + 1)];
  let url = '';
  const throttle = new LoginThrottle({ ...cfg.loginLimit, onThrottled: (by) => metrics.loginsThrottled.inc({ by }) });
  const server: Server = createApiServer(routes(service, hooks, () => url), authenticator(cfg, throttle), log, { maxBodyBytes: cfg.maxBodyBytes, onRequest: (method, code) => metrics.requests.inc({ method, code: String(code) }) });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(portText), host, resolve);
  });
  const addr = server.address();
  url = `http://${host}:${typeof addr === 'object' && addr ? addr.port : portText}`;
  let nc: NatsConnection | undefined;
  let publishing: Publishing | undefined;
  if (cfg.nats) {
    nc = await connectBus({ url: cfg.nats.url, seedFile: cfg.nats.seedFile, name: 'plumb-controller' });
    publishing = await startPublishing(nc, hooks, storeConfig(cfg), cfg.nats.replicas, log, cfg.listen);
  }
  const metricsServer = cfg.metrics ? await startMetricsServer(metrics.registry, cfg.metrics.listen) : undefined;
  // live-migration switches whose old host never confirms (its agent died since) end anyway
  const overdue = setInterval(() => {
    service.activateOverdue(SWITCH_TIMEOUT_MS).then(
      (n) => n > 0 && log.warn({ ports: n, afterMs: SWITCH_TIMEOUT_MS }, 'live-migration switch completed without the old host applying it'),
      (err: unknown) => log.error({ err: errorMessage(err) }, 'overdue switches not completed'),
    );
  }, 1_000);
  overdue.unref();
  log.info({ url, nats: cfg.nats?.url, metrics: cfg.metrics?.listen }, 'controller listening');
  return {
    url,
    hooks,
    service,
    get publisher() {
      return publishing?.publisher;
    },
    publishing,
    async close() {
      // every wait on the bus here has a deadline: SIGTERM while nats-server is away must not hang
      clearInterval(overdue);
      await publishing?.stop();
      if (nc) log.info({ bus: await closeBus(nc) }, 'left the bus');
      await new Promise((r) => server.close(r));
      metricsServer?.close();
      await store.close();
    },
  };
}
