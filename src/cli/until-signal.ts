// How a plumb daemon lives under systemd: READY once started, the watchdog while running, and on
// SIGTERM/SIGINT STOPPING then a clean stop. Resolves when stopped.
//
// The stop has a deadline, and so does the exit after it: every wait on the bus inside stop() is
// bounded (src/bus/close.ts), but a wait nobody bounded, or a handle left open (a reconnect
// timer of a connection to a server that is gone), must not keep a stopping daemon alive.
import type { Logger } from 'pino';
import { sdNotify, startWatchdog } from '../systemd/notify.js';
import { errorMessage } from '../util/errors.js';

/** The whole stop, bus waits included (each of those is shorter). */
export const STOP_DEADLINE_MS = 5000;
/** After a clean stop the event loop should be empty; if it is not by then, exit anyway. */
const EXIT_GRACE_MS = 500;

export async function serveUntilSignal(log: Logger, stop: () => Promise<void>, status = 'running', deadlineMs = STOP_DEADLINE_MS): Promise<void> {
  sdNotify(`READY=1\nSTATUS=${status}`);
  const stopWatchdog = startWatchdog();
  await new Promise<void>((resolve) => {
    const onSignal = (sig: string): void => {
      log.info({ signal: sig }, 'stopping');
      sdNotify('STOPPING=1');
      stopWatchdog();
      const started = Date.now();
      const overdue = setTimeout(() => {
        log.error({ deadlineMs }, 'stop did not finish in time; exiting');
        process.exit(1);
      }, deadlineMs);
      stop().then(
        () => {
          clearTimeout(overdue);
          log.info({ ms: Date.now() - started }, 'stopped');
          setTimeout(() => process.exit(process.exitCode ?? 0), EXIT_GRACE_MS).unref();
          resolve();
        },
        (err: unknown) => {
          clearTimeout(overdue);
          log.error({ err: errorMessage(err) }, 'stop failed');
          process.exitCode = 1;
          setTimeout(() => process.exit(1), EXIT_GRACE_MS).unref();
          resolve();
        },
      );
    };
    process.once('SIGTERM', () => onSignal('SIGTERM'));
    process.once('SIGINT', () => onSignal('SIGINT'));
  });
}
