// ControllerHooks over the service: what the bus publisher and the agents' reports use.
// The hooks are synchronous: they read committed state through the SQLite store's read-only
// connection; the agents' reports are store write units, started here and logged if they fail.
import type { Logger } from 'pino';
import { errorMessage } from '../util/errors.js';
import type { ControllerHooks, HostSummary } from './hooks.js';
import { hostState } from './host-state.js';
import type { ControllerService } from './service.js';
import type { SqliteStore } from './sqlite-store.js';

export function controllerHooks(svc: ControllerService, store: SqliteStore, log: Logger): ControllerHooks {
  const failed = (what: string) => (err: unknown) => log.error({ err: errorMessage(err) }, `${what} not recorded`);
  return {
    onHostsChanged: (l) => svc.onHostsChanged(l),
    desiredState: (h) => hostState(store.reader, svc.cfg, h),
    knownHostIds: () => store.hostRowsSync().map((h) => h.id),
    reportPortStatus: (r) => void svc.portStatus(r.hostId, r.portId, r.status, r.reason, r.revision).catch(failed(`port ${r.portId} status from ${r.hostId}`)),
    reportHeartbeat: (r) => void svc.heartbeat(r.hostId, r.underlayAddress, r.version).catch(failed(`heartbeat of ${r.hostId}`)),
    hosts: (): HostSummary[] =>
      store.hostRowsSync().map((h) => ({ id: h.id, alive: svc.isAlive(h), ...(h.underlay ? { underlayAddress: h.underlay } : {}), ...(h.last_seen ? { lastSeen: h.last_seen } : {}) })),
  };
}
