// `plumb agent run`: the long-running agent. Desired state from NATS (controller-driven) or a
// state file (standalone); port status and heartbeats back to the controller; port security
// reconciled every pass.
import type { Logger } from 'pino';
import type { NatsConnection } from '@nats-io/transport-node';
import { openKernelHandle } from '../kernel/handle.js';
import type { KernelHandle } from '../kernel/types.js';
import type { AgentConfig } from '../agent-config/schema.js';
import { closeBus } from '../bus/close.js';
import { connectBus } from '../bus/connection.js';
import { inboxPrefix } from '../bus/layout.js';
import { StatusReporter } from '../bus/reporter.js';
import { logger } from '../util/log.js';
import { agentMetrics, startMetricsServer } from '../metrics/registry.js';
import { startResponder } from '../dhcp/responder.js';
import { busStateSource } from './bus-source.js';
import { hostExtensions } from './extensions.js';
import { AgentService } from './service.js';
import { fileStateSource, type StateSource } from './state-file.js';

export const AGENT_VERSION = '0.1.0';

export interface RunningAgent {
  service: AgentService;
  stop(): Promise<void>;
}

export async function startAgent(cfg: AgentConfig, log: Logger = logger('agent', { host: cfg.host })): Promise<RunningAgent> {
  const handle: KernelHandle = await openKernelHandle(cfg.netns === undefined ? {} : { netns: cfg.netns });
  let nc: NatsConnection | undefined;
  let reporter: StatusReporter | undefined;
  let source: StateSource;
  if (cfg.nats) {
    nc = await connectBus({ url: cfg.nats.url, seedFile: cfg.nats.seedFile, name: `plumb-agent-${cfg.host}`, inboxPrefix: inboxPrefix(cfg.host), ...(cfg.nats.tls ? { tls: cfg.nats.tls } : {}) });
    reporter = new StatusReporter(nc, cfg.host, { version: AGENT_VERSION, ...(cfg.underlay.address ? { underlayAddress: cfg.underlay.address } : {}) });
    reporter.startHeartbeat(cfg.heartbeatSeconds * 1000);
    source = busStateSource(nc, cfg.host);
  } else {
    source = fileStateSource(cfg.stateFile as string);
  }
  const responder = cfg.dhcp ? await startResponder({ ...(cfg.netns === undefined ? {} : { netns: cfg.netns }), logger: log.child({ module: 'dhcp' }) }) : undefined;
  const metrics = agentMetrics();
  const metricsServer = cfg.metrics ? await startMetricsServer(metrics.registry, cfg.metrics.listen) : undefined;
  const applied = new Map<string, number>(); // port id -> revision already counted in portApply
  const service = new AgentService({
    handle,
    source,
    extensions: hostExtensions({ ...(cfg.netns === undefined ? {} : { netns: cfg.netns }), firewall: cfg.firewall }),
    netnsAllowed: cfg.veth.netnsAllowed,
    log,
    // bindings change at once with the desired state, before the kernel pass
    onState: (v) => responder?.update(v.state),
    onLinks: (links) => responder?.setLinks(links),
    onPass: (result) => {
      const now = Date.now();
      for (const p of result.ports) {
        if (p.status !== 'ACTIVE' || applied.get(p.id) === p.revision) continue;
        applied.set(p.id, p.revision);
        const storedAt = source.portStoredAt?.(p.id);
        if (storedAt !== undefined) metrics.portApply.observe(Math.max(0, now - storedAt) / 1000);
      }
      if (applied.size > result.ports.length * 2) {
        const current = new Set(result.ports.map((p) => p.id));
        for (const id of applied.keys()) if (!current.has(id)) applied.delete(id);
      }
      reporter?.report(result.generation, result.ports.map((p) => ({ id: p.id, status: p.status, revision: p.revision, ...(p.reason ? { reason: p.reason } : {}) })));
      metrics.passes.inc();
      metrics.ops.inc(result.writes);
      metrics.duration.observe(result.durationMs / 1000);
      metrics.errors.inc({ kind: 'rejected' }, result.rejections.length);
      metrics.errors.inc({ kind: 'unapplied' }, result.problems.length);
      metrics.errors.inc({ kind: 'failed' }, result.failures.length);
      metrics.ports.reset();
      for (const p of result.ports) metrics.ports.inc({ status: p.status });
      if (responder) {
        const st = responder.stats();
        metrics.dhcp.reset();
        metrics.dhcp.inc({ outcome: 'answered' }, st.answered);
        metrics.dhcp.inc({ outcome: 'ignored' }, st.ignoredUnknownMac + st.ignoredWrongPort + st.ignoredOther);
        metrics.dhcp.inc({ outcome: 'malformed' }, st.malformed);
      }
    },
  });
  service.start();
  // bin/plumb.js raises the libuv pool (UV_THREADPOOL_SIZE) before Node starts it: say what we got
  log.info({ mode: cfg.nats ? 'nats' : 'state-file', netns: cfg.netns, threadPool: Number(process.env.UV_THREADPOOL_SIZE ?? 4) }, 'agent started');
  return {
    service,
    async stop() {
      await service.stop();
      await responder?.close();
      reporter?.stop();
      if (nc) log.info({ bus: await closeBus(nc) }, 'left the bus'); // bounded: the bus may be away
      metricsServer?.close();
      handle.close();
    },
  };
}
