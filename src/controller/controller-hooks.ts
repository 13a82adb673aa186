// ControllerHooks over the service: what the bus publisher and the agents' reports use.
import type { ControllerHooks, HostSummary } from './hooks.js';
import { hostState } from './host-state.js';
import type { ControllerService } from './service.js';

export function controllerHooks(svc: ControllerService): ControllerHooks {
  return {
    onHostsChanged: (l) => svc.onHostsChanged(l),
    desiredState: (h) => hostState(svc.db, svc.cfg, h),
    knownHostIds: () => svc.hostRows().map((h) => h.id),
    reportPortStatus: (r) => svc.portStatus(r.hostId, r.portId, r.status, r.reason, r.revision),
    reportHeartbeat: (r) => svc.heartbeat(r.hostId, r.underlayAddress, r.version),
    hosts: (): HostSummary[] =>
      svc.hostRows().map((h) => ({ id: h.id, alive: svc.isAlive(h), ...(h.underlay ? { underlayAddress: h.underlay } : {}), ...(h.last_seen ? { lastSeen: h.last_seen } : {}) })),
  };
}
