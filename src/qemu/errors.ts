import { PlumbError } from '../util/errors.js';

/** Debian's kernel package could not be resolved, downloaded or unpacked. */
export class KernelFetchError extends PlumbError {}

/** The initramfs could not be built (a module, busybox or cpio is missing). */
export class InitramfsBuildError extends PlumbError {}

/** QEMU or virtiofsd did not start, or exited before the guest finished booting. */
export class VmStartError extends PlumbError {}

/** The guest did not print the expected line within the allowed time. */
export class GuestTimeoutError extends PlumbError {
  constructor(
    readonly vm: string,
    readonly waitingFor: string,
    readonly consoleTail: string,
  ) {
    super(`guest ${vm}: timed out waiting for ${waitingFor}; console tail:\n${consoleTail}`);
  }
}

/** The guest's test script exited non-zero. */
export class GuestScriptError extends PlumbError {
  constructor(
    readonly vm: string,
    readonly exitCode: number,
    readonly consoleTail: string,
  ) {
    super(`guest ${vm}: script exited ${exitCode}; console tail:\n${consoleTail}`);
  }
}

/** A libvirtd of the harness did not start or answer, or virsh failed (with virsh's own words). */
export class LibvirtError extends PlumbError {}

/** A Ganeti node of the harness could not be made, or a gnt-* command failed (with Ganeti's own words). */
export class GanetiError extends PlumbError {}
