import { pino, type Logger } from 'pino';

// One root logger per process; every module takes a child with its own `module` field so
// operators can filter (`jq 'select(.module=="reconciler")'`).
// Logs go to stderr, so a command's own output on stdout (tables, --json) stays parseable.
const root: Logger = pino(
  {
    level: process.env.PLUMB_LOG_LEVEL ?? (process.env.VITEST ? 'silent' : 'info'),
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
  },
  pino.destination({ fd: 2, sync: true }),
);

export type { Logger };

export function logger(module: string, bindings: Record<string, unknown> = {}): Logger {
  return root.child({ module, ...bindings });
}

export function setLogLevel(level: string): void {
  root.level = level;
}
