// How a plumb daemon lives under systemd: READY once started, the watchdog while running, and on
// SIGTERM/SIGINT STOPPING then a clean stop. Resolves when stopped.
import type { Logger } from 'pino';
import { sdNotify, startWatchdog } from '../systemd/notify.js';

export async function serveUntilSignal(log: Logger, stop: () => Promise<void>, status = 'running'): Promise<void> {
  sdNotify(`READY=1\nSTATUS=${status}`);
  const stopWatchdog = startWatchdog();
  await new Promise<void>((resolve) => {
    const onSignal = (sig: string): void => {
      log.info({ signal: sig }, 'stopping');
      sdNotify('STOPPING=1');
      stopWatchdog();
      void stop().then(resolve);
    };
    process.once('SIGTERM', () => onSignal('SIGTERM'));
    process.once('SIGINT', () => onSignal('SIGINT'));
  });
}
