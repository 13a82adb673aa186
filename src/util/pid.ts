// Pids read from files and command output. A pid is a whole number above 1: an empty pid file
// parsed with Number() is 0, and process.kill(0, sig) signals the caller's whole process group
// (a test runner, the operator's shell), a negative number another group, and 1 is init.
export function parsePid(text: string | number): number | undefined {
  const s = String(text).trim();
  if (!/^\d+$/.test(s)) return undefined;
  const pid = Number(s);
  return pid > 1 && Number.isSafeInteger(pid) ? pid : undefined;
}

/** Sends `signal` to `pid` when it is a real process id; false when it is not one or is gone. */
export function signalPid(pid: string | number, signal: NodeJS.Signals | 0): boolean {
  const p = parsePid(pid);
  if (p === undefined) return false;
  try {
    process.kill(p, signal);
    return true;
  } catch {
    return false;
  }
}
