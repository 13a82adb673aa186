// One error class per condition (see src/util/errors.ts).
import { PlumbError } from '../util/errors.js';

/** An `nft` invocation exited non-zero; `stderr` carries nft's own explanation. */
export class NftCommandError extends PlumbError {
  constructor(
    readonly args: string[],
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(`nft ${args.join(' ')} failed (exit ${exitCode ?? 'signal'}): ${stderr.trim().split('\n').slice(0, 6).join(' | ')}`);
  }
}

/** The `nft` binary could not be started (not installed, or not on PATH). */
export class NftUnavailableError extends PlumbError {
  constructor(readonly command: string, cause: unknown) {
    super(`cannot run '${command}': ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/** A port would produce an nft element that cannot be written (defence in depth behind zod). */
export class FirewallInputError extends PlumbError {
  constructor(readonly field: string, readonly reason: string) {
    super(`${field}: ${reason}`);
  }
}

/** Bridged ports have profiles but br_netfilter is missing (`modprobe br_netfilter` on stock kernels). */
export class BridgeNetfilterUnavailableError extends PlumbError {
  constructor(cause: unknown) {
    super(
      'firewall profiles on bridged ports need br_netfilter (net.bridge.bridge-nf-call-iptables); load it with `modprobe br_netfilter` — anti-spoofing and isolation rules were applied, profiles on bridged ports are not effective',
      { cause },
    );
  }
}
