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
