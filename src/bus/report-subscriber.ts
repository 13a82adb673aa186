// Agents' reports (port statuses with the generation applied, heartbeats) into the controller's
// hooks. With several controllers on one bus they subscribe in one queue group: NATS gives each
// report to exactly one of them, and any of them can record it (they share the store).
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { ControllerHooks } from '../state/controller-hooks.js';
import { errorMessage } from '../util/errors.js';
import { parseHeartbeatMessage, parseStatusMessage } from './reports.js';

/** The queue group of every controller instance. */
export const CONTROLLERS_QUEUE = 'plumb-controllers';

function onStatus(hooks: ControllerHooks, log: Logger, subject: string, data: Uint8Array): void {
  const host = subject.split('.')[2];
  if (!host) return;
  try {
    const msg = parseStatusMessage(data);
    for (const p of msg.ports) {
      hooks.reportPortStatus({ hostId: host, portId: p.id, status: p.status, ...(p.reason ? { reason: p.reason } : {}), revision: p.revision, generation: msg.generation });
    }
    // after the statuses: a switch it ends publishes the new host's port, whose report follows
    hooks.reportApplied({ hostId: host, generation: msg.generation });
  } catch (err) {
    log.warn({ host, err: errorMessage(err) }, 'invalid status report ignored');
  }
}

function onHeartbeat(hooks: ControllerHooks, log: Logger, subject: string, data: Uint8Array): void {
  const host = subject.split('.')[2];
  if (!host) return;
  try {
    const msg = parseHeartbeatMessage(data);
    hooks.reportHeartbeat({ hostId: host, version: msg.version, ...(msg.underlayAddress ? { underlayAddress: msg.underlayAddress } : {}) });
  } catch (err) {
    log.warn({ host, err: errorMessage(err) }, 'invalid heartbeat ignored');
  }
}

/** Subscribes to every host's reports; `queue`: share them with the other controllers. */
export function subscribeReports(nc: NatsConnection, hooks: ControllerHooks, log: Logger, queue?: string): Subscription[] {
  const opts = queue ? { queue } : {};
  return [
    nc.subscribe('plumb.status.*', { ...opts, callback: (err, msg) => void (err || onStatus(hooks, log, msg.subject, msg.data)) }),
    nc.subscribe('plumb.heartbeat.*', { ...opts, callback: (err, msg) => void (err || onHeartbeat(hooks, log, msg.subject, msg.data)) }),
  ];
}
