/**
 * A token bucket: the one rate limiter of the orchestrator (module reports in the event
 * service, module output echoed to the log). It refills continuously at `perSecond` up to
 * `burst` tokens and starts full.
 */

/** A rate: `perSecond` on average, up to `burst` at once. */
export interface Rate {
  perSecond: number;
  burst: number;
}

/** Takes one token per action; refuses when the bucket is empty. */
export class TokenBucket {
  #tokens: number;
  #at: number;

  readonly #now: () => number;

  /** `now` is the clock in milliseconds (tests pass their own). */
  constructor(readonly rate: Rate, now: () => number = () => performance.now()) {
    this.#now = now;
    this.#tokens = rate.burst;
    this.#at = now();
  }

  /** Takes a token: true when there was one, false when over the rate. */
  take(): boolean {
    const now = this.#now();
    this.#tokens = Math.min(
      this.rate.burst,
      this.#tokens + (now - this.#at) / 1000 * this.rate.perSecond,
    );
    this.#at = now;
    if (this.#tokens < 1) return false;
    this.#tokens--;
    return true;
  }
}
