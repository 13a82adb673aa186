// Why a VM manager's hook failed. The hook's exit code fails the NIC (Ganeti refuses to start
// the instance), so every message says what to do about it.
import { PlumbError } from '../util/errors.js';

/** The controller knows no port with the NIC's MAC address. */
export class UnknownPortError extends PlumbError {
  constructor(readonly mac: string, nic: string) {
    super(`plumb knows no port with MAC ${mac} (${nic}); create the port through the API (or give the NIC a port's MAC) before starting the instance`);
  }
}

/** The agent reported the port ERROR, with its reason. */
export class PortFailedError extends PlumbError {
  constructor(readonly portId: string, readonly reason: string) {
    super(`port ${portId} failed on this host: ${reason}`);
  }
}

/** The agent did not apply the port in time. */
export class PortNotAppliedError extends PlumbError {
  constructor(readonly portId: string, status: string, reason: string | null, seconds: number) {
    super(`port ${portId} is still ${status} after ${seconds} s${reason ? ` (${reason})` : ''}; is plumb-agent running on this host and connected to the bus?`);
  }
}

/**
 * A NIC not in routed mode asked for a port that is live on another node. Ganeti runs the NIC
 * script of bridged and openvswitch NICs on a live migration's destination before the migration
 * starts (routed ones only once it succeeded): binding the port then would move its traffic away
 * from the running instance for the whole migration. Refusing fails the migration, safely.
 */
export class PortLiveElsewhereError extends PlumbError {
  constructor(readonly portId: string, readonly host: string, nic: string, mode: string) {
    super(
      `port ${portId} is ACTIVE on ${host}, and this ${mode} NIC (${nic}) would take it away from the running instance: Ganeti configures ${mode} NICs on a migration's destination before the migration. Give plumb NICs mode=routed (Ganeti then runs this script on the destination once the migration succeeded), or stop the instance on ${host} first`,
    );
  }
}
