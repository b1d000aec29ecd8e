/**
 * The restart rules of a module, apart from its process so they can be tested with a
 * fake clock: an exponential backoff with jitter between restarts, a crash-loop limit
 * (too many restarts within a window park the module in FAILED), and a reset of the
 * backoff once the module has run long enough (stable uptime).
 */
import type { Manifest } from "../manifest/manifest.ts";

/** The id of a timer (a number in Deno, an object under Node's types). */
export type TimerId = ReturnType<typeof setTimeout>;

/** The clock, timers and randomness of a runner; tests pass their own. */
export interface RunnerClock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** A number in [0, 1). */
  random(): number;
  setTimeout(fn: () => void, ms: number): TimerId;
  clearTimeout(id: TimerId | undefined): void;
}

/** The real clock. */
export const SYSTEM_CLOCK: RunnerClock = {
  now: () => Date.now(),
  random: () => Math.random(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id),
};

/** What to do after a module's process ended and it should run again. */
export type RestartDecision =
  | { kind: "restart"; delayMs: number }
  | { kind: "park"; restarts: number; windowMs: number };

/** The restart rules of one module (its manifest's `restart` section). */
export type RestartRules = Omit<Manifest["restart"], "policy">;

/** Counts restarts and failures in a row, and decides the next restart. */
export class RestartBackoff {
  #restartTimes: number[] = [];
  #consecutiveFailures = 0;

  readonly #clock: Pick<RunnerClock, "now" | "random">;

  constructor(clock: Pick<RunnerClock, "now" | "random"> = SYSTEM_CLOCK) {
    this.#clock = clock;
  }

  /** Forgets past restarts (a start by hand). */
  reset(): void {
    this.#restartTimes = [];
    this.#consecutiveFailures = 0;
  }

  /**
   * The next step after a failure: a restart after `base/2 + random * base/2` ms, `base`
   * doubling with each failure in a row from `backoffInitialMs` up to `backoffMaxMs`
   * (back to the start when the module had been READY since `readyAt` for
   * `stableAfterMs`); or, when `parkable` and `limit` restarts happened within
   * `windowMs`, parking.
   */
  next(rules: RestartRules, readyAt: number, parkable: boolean): RestartDecision {
    const now = this.#clock.now();
    if (readyAt > 0 && now - readyAt >= rules.stableAfterMs) this.#consecutiveFailures = 0;
    this.#restartTimes = this.#restartTimes.filter((t) => now - t < rules.windowMs);
    if (this.#restartTimes.length >= rules.limit && parkable) {
      return { kind: "park", restarts: this.#restartTimes.length, windowMs: rules.windowMs };
    }
    const base = Math.min(
      rules.backoffMaxMs,
      rules.backoffInitialMs * 2 ** this.#consecutiveFailures,
    );
    const delayMs = Math.round(base / 2 + this.#clock.random() * base / 2);
    this.#consecutiveFailures++;
    this.#restartTimes.push(now);
    return { kind: "restart", delayMs };
  }
}
