// ControllerHooks over the service: what the bus publisher and the agents' reports use. Reads go
// through the store interface (committed state only); the agents' reports are store write
// units, started here and logged if they fail.
import type { Logger } from 'pino';
import { errorMessage } from '../util/errors.js';
import type { ControllerHooks, HostSummary } from '../state/controller-hooks.js';
import { hostObjects, hostState } from './host-state.js';
import type { ControllerService } from './service.js';

export function controllerHooks(svc: ControllerService, log: Logger): ControllerHooks {
  const failed = (what: string) => (err: unknown) => log.error({ err: errorMessage(err) }, `${what} not recorded`);
  const { store, cfg } = svc;
  return {
    onHostsChanged: (l) => svc.onHostsChanged(l),
    desiredState: (h) => store.read((r) => hostState(r, cfg, h)),
    desiredObjects: (h, ids) => store.read((r) => hostObjects(r, cfg, h, ids)),
    knownHostIds: () => store.read(async (r) => (await r.hosts()).map((h) => h.id)),
    reportPortStatus: (r) => void svc.portStatus(r.hostId, r.portId, r.status, r.reason, r.revision).catch(failed(`port ${r.portId} status from ${r.hostId}`)),
    reportApplied: (r) => void svc.applied(r.hostId, r.generation).catch(failed(`generation ${r.generation} applied by ${r.hostId}`)),
    reportHeartbeat: (r) => void svc.heartbeat(r.hostId, r.underlayAddress, r.version).catch(failed(`heartbeat of ${r.hostId}`)),
    hosts: async (): Promise<HostSummary[]> =>
      (await svc.hostRows()).map((h) => ({ id: h.id, alive: svc.isAlive(h), ...(h.underlay ? { underlayAddress: h.underlay } : {}), ...(h.last_seen ? { lastSeen: h.last_seen } : {}) })),
  };
}
