/**
 * A circuit breaker per module: after 5 failed calls in a row it opens and calls
 * fail fast with UNAVAILABLE ("circuit open") instead of waiting for their deadlines; after
 * a cooldown it half-opens and lets calls through; 2 successes close it, a failure opens
 * it again. Only transport and server failures count: a module answering NOT_FOUND or
 * INVALID_ARGUMENT is working. Idempotent reads are also retried with backoff.
 */
import { Code, RpcError, toRpcError } from "@callassistant/rpc";

/** The states of a breaker. */
export type CircuitState = "closed" | "open" | "half-open";

/** Breaker settings (defaults in parentheses). */
export interface CircuitOptions {
  /** Failures in a row that open the circuit (5). */
  failureThreshold?: number;
  /** Successes in a row, half-open, that close it (2). */
  successThreshold?: number;
  /** How long it stays open before letting a call through (5 s). */
  cooldownMs?: number;
  /** Told on every state change, with the reason. */
  onChange?: (state: CircuitState, reason: string) => void;
  /** The clock, for tests. */
  now?: () => number;
}

/** Codes that mean the module (or the way to it) failed, not the request. */
const FAILURES = new Set([
  Code.UNAVAILABLE,
  Code.DEADLINE_EXCEEDED,
  Code.INTERNAL,
  Code.UNKNOWN,
  Code.DATA_LOSS,
]);

/** The error of a call refused by an open circuit. */
export class CircuitOpenError extends RpcError {
  constructor(message: string) {
    super(Code.UNAVAILABLE, message);
    this.name = "CircuitOpenError";
  }
}

/** A circuit breaker for the calls to one module. */
export class CircuitBreaker {
  state: CircuitState = "closed";
  #failures = 0;
  #successes = 0;
  #openedAt = 0;
  #lastError = "";
  readonly #failureThreshold: number;
  readonly #successThreshold: number;
  readonly #cooldownMs: number;
  readonly #now: () => number;

  readonly #options: CircuitOptions;

  constructor(readonly name: string, options: CircuitOptions = {}) {
    this.#options = options;
    this.#failureThreshold = options.failureThreshold ?? 5;
    this.#successThreshold = options.successThreshold ?? 2;
    this.#cooldownMs = options.cooldownMs ?? 5_000;
    this.#now = options.now ?? Date.now;
  }

  #change(state: CircuitState, reason: string): void {
    if (state === this.state) return;
    this.state = state;
    this.#options.onChange?.(state, reason);
  }

  /** Runs `call` through the breaker. */
  async run<T>(call: () => Promise<T>): Promise<T> {
    if (this.state === "open") {
      const left = this.#openedAt + this.#cooldownMs - this.#now();
      if (left > 0) {
        throw new CircuitOpenError(
          `circuit open for module "${this.name}": ${this.#failureThreshold} calls in a row ` +
            `failed (last: ${this.#lastError}); calls fail fast for another ${Math.ceil(left)} ms`,
        );
      }
      this.#successes = 0;
      this.#change("half-open", "cooldown over; trying again");
    }
    try {
      const result = await call();
      this.#succeeded();
      return result;
    } catch (err) {
      const e = toRpcError(err);
      if (FAILURES.has(e.code)) this.#failed(e);
      else this.#succeeded();
      throw err;
    }
  }

  #succeeded(): void {
    this.#failures = 0;
    if (this.state === "half-open" && ++this.#successes >= this.#successThreshold) {
      this.#change("closed", `${this.#successes} calls in a row succeeded`);
    }
  }

  #failed(e: RpcError): void {
    this.#lastError = `${Code[e.code]}: ${e.message}`;
    this.#failures++;
    if (this.state === "half-open" || this.#failures >= this.#failureThreshold) {
      this.#openedAt = this.#now();
      this.#change("open", this.#lastError);
    }
  }
}

/**
 * Retries an idempotent call on UNAVAILABLE (not on an open circuit) with exponential
 * backoff: `attempts` tries in all, waiting `baseMs`, then twice that, and so on.
 */
export async function retryRead<T>(call: () => Promise<T>, attempts = 3, baseMs = 50): Promise<T> {
  for (let attempt = 1;; attempt++) {
    try {
      return await call();
    } catch (err) {
      const e = toRpcError(err);
      if (attempt >= attempts || e.code !== Code.UNAVAILABLE || err instanceof CircuitOpenError) {
        throw err;
      }
      await new Promise((r) => setTimeout(r, baseMs * 2 ** (attempt - 1)));
    }
  }
}

/**
 * A copy of a unary client whose calls go through `breaker`, with the methods named in
 * `reads` (idempotent) retried on UNAVAILABLE.
 */
export function guarded<C extends object>(client: C, breaker: CircuitBreaker, reads: string[]): C {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(client)) {
    if (typeof value !== "function" || key === "close" || key === "waitForReady") {
      out[key] = value;
      continue;
    }
    const call = value as (...args: unknown[]) => Promise<unknown>;
    const once = (args: unknown[]) => breaker.run(() => call(...args));
    out[key] = reads.includes(key)
      ? (...args: unknown[]) => retryRead(() => once(args))
      : (...args: unknown[]) => once(args);
  }
  return out as C;
}
