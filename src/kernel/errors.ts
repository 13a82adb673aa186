import { PlumbError } from '../util/errors.js';

/** A kernel request failed; `errno` is the positive errno the kernel returned. */
export class KernelError extends PlumbError {
  constructor(
    readonly op: string,
    readonly errno: number,
    readonly code: string,
    detail?: string,
  ) {
    super(`${op}: ${code}${detail ? ` (${detail})` : ''}`);
  }
}

/** ENOENT / ENODEV / ESRCH: the object the request named does not exist. */
export class NotFoundError extends KernelError {}

/** EEXIST: the object already exists. */
export class ExistsError extends KernelError {}

/** EBUSY: for taps, the device is held open by a process (QEMU). */
export class BusyError extends KernelError {}

/** The kernel lacks a feature, e.g. `type vlan` without the 8021q driver (EOPNOTSUPP). */
export class UnsupportedError extends KernelError {}

/** EXFULL: the master device has no free port (a Linux bridge takes at most 1023). */
export class DeviceFullError extends KernelError {}

/** A named network namespace (/run/netns/NAME) does not exist. */
export class NamespaceNotFoundError extends PlumbError {
  constructor(readonly netns: string) {
    super(`network namespace '${netns}' does not exist (/run/netns/${netns})`);
  }
}
