// sd_notify(3) for Type=notify units: READY=1 once the daemon serves, STOPPING=1 on shutdown,
// WATCHDOG=1 at half the WatchdogSec interval. A no-op outside systemd (no NOTIFY_SOCKET).
import koffi from 'koffi';

let native: ((unsetEnv: number, state: string) => number) | undefined;
function sdNotifyFn(): ((unsetEnv: number, state: string) => number) | undefined {
  if (native) return native;
  try {
    const lib = koffi.load('libsystemd.so.0');
    native = lib.func('int sd_notify(int unset_environment, const char *state)') as (u: number, s: string) => number;
  } catch {
    native = undefined;
  }
  return native;
}

/** Send `state` (e.g. "READY=1\nSTATUS=converged") to the service manager; false when not under systemd. */
export function sdNotify(state: string): boolean {
  if (!process.env.NOTIFY_SOCKET) return false;
  const fn = sdNotifyFn();
  return fn ? fn(0, state) > 0 : false;
}

/** Start pinging the watchdog if the unit has WatchdogSec; returns a stop function. */
export function startWatchdog(isHealthy: () => boolean = () => true): () => void {
  const usec = Number(process.env.WATCHDOG_USEC ?? 0);
  if (!usec || !process.env.NOTIFY_SOCKET) return () => {};
  const timer = setInterval(() => {
    // a wedged event loop stops the pings, and systemd restarts the daemon
    if (isHealthy()) sdNotify('WATCHDOG=1');
  }, Math.max(500, usec / 2000));
  timer.unref();
  return () => clearInterval(timer);
}
