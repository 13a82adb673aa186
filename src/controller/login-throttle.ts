// Failed logins, limited per user name and per source address: after `failures` wrong
// passwords within `windowSeconds`, further attempts by that user or from that address are
// refused with 429 and Retry-After until the oldest failure leaves the window, before any
// password hash is computed (each check is a deliberately slow scrypt). A credential that
// already succeeded is not checked again, so a client that is logged in is never locked out by
// someone guessing its password.
import { TooManyRequestsError } from './errors.js';

export interface LoginThrottleOptions {
  failures: number;
  windowSeconds: number;
  /** the clock, in ms (tests inject one) */
  now?: () => number;
  /** a refusal, by what was over its limit (metrics) */
  onThrottled?: (by: 'user' | 'address') => void;
}

/** Keys above this are forgotten oldest first: a flood of made-up user names cannot grow memory without bound. */
const MAX_KEYS = 65_536;

export class LoginThrottle {
  private readonly failed = new Map<string, number[]>();
  private readonly now: () => number;

  constructor(private readonly opts: LoginThrottleOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Throws TooManyRequestsError when the user or the address is over the limit. */
  check(user: string, address: string): void {
    for (const [by, key] of [['user', `u:${user}`], ['address', `a:${address}`]] as const) {
      const wait = this.waitSeconds(key);
      if (wait > 0) {
        this.opts.onThrottled?.(by);
        throw new TooManyRequestsError(`Too many failed logins for this ${by === 'user' ? 'user' : 'address'}; try again in ${wait} s`, wait);
      }
    }
  }

  fail(user: string, address: string): void {
    for (const key of [`u:${user}`, `a:${address}`]) {
      const times = this.recent(key);
      times.push(this.now());
      this.failed.delete(key); // re-insert: the map's order is the keys' last failure
      this.failed.set(key, times);
    }
    while (this.failed.size > MAX_KEYS) this.failed.delete(this.failed.keys().next().value as string);
  }

  private recent(key: string): number[] {
    const since = this.now() - this.opts.windowSeconds * 1000;
    return (this.failed.get(key) ?? []).filter((t) => t > since);
  }

  private waitSeconds(key: string): number {
    const times = this.recent(key);
    if (times.length < this.opts.failures) return 0;
    const oldest = times[times.length - this.opts.failures] as number;
    return Math.max(1, Math.ceil((oldest + this.opts.windowSeconds * 1000 - this.now()) / 1000));
  }
}
