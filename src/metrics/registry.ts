// Prometheus metrics of the agent and the controller (documented in docs/operations.md).
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ControllerHooks } from '../state/controller-hooks.js';

export function agentMetrics(registry = new Registry()) {
  collectDefaultMetrics({ register: registry, prefix: 'plumb_agent_' });
  return {
    registry,
    passes: new Counter({ name: 'plumb_agent_reconcile_passes_total', help: 'Reconcile passes run', registers: [registry] }),
    ops: new Counter({ name: 'plumb_agent_ops_applied_total', help: 'Kernel writes issued by reconcile passes', registers: [registry] }),
    errors: new Counter({ name: 'plumb_agent_errors_total', help: 'Problems by kind: rejected (invalid desired state), unapplied (not applicable on this host), failed (kernel op failed)', labelNames: ['kind'], registers: [registry] }),
    duration: new Histogram({ name: 'plumb_agent_reconcile_duration_seconds', help: 'Duration of reconcile passes', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [registry] }),
    ports: new Gauge({ name: 'plumb_agent_ports', help: 'Ports by status', labelNames: ['status'], registers: [registry] }),
    portApply: new Histogram({
      name: 'plumb_agent_port_apply_seconds',
      help: "From the bus storing a port's desired state to the end of the pass that made it ACTIVE (the agent's share of API-to-ACTIVE; host and NATS clocks must agree)",
      buckets: [0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    dhcp: new Counter({ name: 'plumb_agent_dhcp_packets_total', help: 'DHCP/RA packets by outcome: answered, ignored, malformed', labelNames: ['outcome'], registers: [registry] }),
  };
}
export type AgentMetrics = ReturnType<typeof agentMetrics>;

/**
 * With `hooks`, hosts_alive is read from them at every scrape, and with `portsByStatus` the
 * port counts (no bookkeeping in the controller).
 */
/** Running totals of the controller's store (ControllerStore.counters()). */
type StoreTotals = () => { units: number; statements: number; retries: number };

/** A counter whose value is read from `total` when scraped. */
function totalCounter(registry: Registry, name: string, help: string, total: (() => number) | undefined): Counter {
  return new Counter({
    name,
    help,
    registers: [registry],
    ...(total
      ? {
          collect(this: Counter) {
            this.reset();
            this.inc(total());
          },
        }
      : {}),
  });
}

export function controllerMetrics(registry = new Registry(), hooks?: Pick<ControllerHooks, 'hosts'>, portsByStatus?: () => Promise<Record<string, number>>, store?: StoreTotals) {
  collectDefaultMetrics({ register: registry, prefix: 'plumb_controller_' });
  return {
    registry,
    storeUnits: totalCounter(registry, 'plumb_controller_store_units_total', 'Store units (transactions) run, reads and writes', store && (() => store().units)),
    storeStatements: totalCounter(registry, 'plumb_controller_store_statements_total', 'Statements the store sent to its database, BEGIN and COMMIT not counted (on PostgreSQL, each is a round trip)', store && (() => store().statements)),
    storeRetries: totalCounter(registry, 'plumb_controller_store_retries_total', 'Write units run again after colliding with a concurrent unit of another controller (serialization failure, deadlock, unique violation); 0 on SQLite', store && (() => store().retries)),
    ports: new Gauge({
      name: 'plumb_controller_ports',
      help: 'Ports by status',
      labelNames: ['status'],
      registers: [registry],
      ...(portsByStatus
        ? {
            async collect(this: Gauge<'status'>) {
              const counts = await portsByStatus();
              this.reset();
              for (const [status, n] of Object.entries(counts)) this.set({ status }, n);
            },
          }
        : {}),
    }),
    hostsAlive: new Gauge({
      name: 'plumb_controller_hosts_alive',
      help: 'Hosts whose agent heartbeats are current',
      registers: [registry],
      ...(hooks
        ? {
            async collect(this: Gauge) {
              this.set((await hooks.hosts()).filter((h) => h.alive).length);
            },
          }
        : {}),
    }),
    requests: new Counter({ name: 'plumb_controller_http_requests_total', help: 'API requests by method and status code (499: the client went away before its request was read)', labelNames: ['method', 'code'], registers: [registry] }),
    loginsThrottled: new Counter({ name: 'plumb_controller_logins_throttled_total', help: 'Logins refused with 429 after too many failures, by what was over the limit (user, address)', labelNames: ['by'], registers: [registry] }),
  };
}

/** Serve GET /metrics on host:port. */
export async function startMetricsServer(registry: Registry, listen: string): Promise<Server> {
  const [host, port] = [listen.slice(0, listen.lastIndexOf(':')), Number(listen.slice(listen.lastIndexOf(':') + 1))];
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: unknown) => res.writeHead(500).end(String(err)),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return server;
}
