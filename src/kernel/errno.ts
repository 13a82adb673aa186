// Netlink request errors -> plumb's typed kernel errors. The netlink package reports a
// rejected request as `Error('Request rejected: <CODE>')`; the code is all we need.
import { constants } from 'node:os';
import { getSystemErrorName } from 'node:util';
import { BusyError, DeviceFullError, ExistsError, KernelError, NotFoundError, UnsupportedError } from './errors.js';

const errnos = constants.errno as Record<string, number>;
/** Linux errnos that rtnetlink returns and Node's (libuv's) tables lack: EXFULL, a full bridge. */
const LINUX_ERRNOS: Record<string, number> = { EXFULL: 54 };

/** The name of an errno (sign ignored), e.g. 17 -> EEXIST, 54 -> EXFULL; the number when unnamed. */
export function errnoName(errno: number): string {
  const n = Math.abs(errno);
  const linux = Object.keys(LINUX_ERRNOS).find((k) => LINUX_ERRNOS[k] === n);
  if (linux) return linux;
  try {
    const name = getSystemErrorName(-n);
    return name.startsWith('E') ? name : String(n); // not "Unknown system error -N"
  } catch {
    return String(n);
  }
}

export function toKernelError(op: string, err: unknown, detail?: string): KernelError {
  if (err instanceof KernelError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const code = /Request rejected: (E[A-Z0-9]+|\d+)/.exec(message)?.[1] ?? (err as { code?: string }).code ?? 'EIO';
  const errno = /^\d+$/.test(code) ? Number(code) : errnos[code] ?? LINUX_ERRNOS[code] ?? 0;
  switch (code) {
    case 'ENOENT':
    case 'ENODEV':
    case 'ESRCH':
    case 'EADDRNOTAVAIL':
      return new NotFoundError(op, errno, code, detail);
    case 'EEXIST':
      return new ExistsError(op, errno, code, detail);
    case 'EBUSY':
      return new BusyError(op, errno, code, detail);
    case 'EOPNOTSUPP':
      return new UnsupportedError(op, errno, code, detail);
    case 'EXFULL':
      // the one rtnetlink path that returns it: enslaving to a bridge whose port numbers are used up
      return new DeviceFullError(op, errno, code, detail ?? 'the master device has no free port: a Linux bridge takes at most 1023 ports');
    default:
      return new KernelError(op, errno, code, detail ?? (code === 'EIO' ? message : undefined));
  }
}
