/**
 * W3C Trace Context (`traceparent`) and the trace a piece of work belongs to.
 *
 * The current trace is held in an AsyncLocalStorage scope: the gateway and the gRPC
 * server adapter open one per call, and everything the call does while it is handled
 * (module calls, events, log lines) sees it. A scope is **closed** when the call that
 * opened it has been answered, so timers and callbacks a call happened to schedule (a
 * health check, a restart backoff) do not carry its trace forever afterwards.
 */
import { AsyncLocalStorage } from "node:async_hooks";

/** One span of a trace, as carried by `traceparent`. */
export interface TraceContext {
  /** 32 lower-case hex digits, not all zero. */
  readonly traceId: string;
  /** 16 lower-case hex digits, not all zero: the span this process is working in. */
  readonly spanId: string;
  /** Trace flags; bit 0 is "sampled". */
  readonly flags: number;
}

interface Scope {
  readonly trace: TraceContext | undefined;
  open: boolean;
}

const storage = new AsyncLocalStorage<Scope>();

const HEX = /^[0-9a-f]+$/;
const ZERO_TRACE = "0".repeat(32);
const ZERO_SPAN = "0".repeat(16);

/**
 * Parses a `traceparent` header value; undefined when absent or invalid (then a new
 * trace is started, as the W3C recommendation says). Versions above 00 are read by
 * their 00 prefix; version ff is invalid.
 */
export function parseTraceparent(value: string | null | undefined): TraceContext | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (v.length < 55) return undefined;
  const version = v.slice(0, 2);
  if (!HEX.test(version) || version === "ff") return undefined;
  if (version === "00" ? v.length !== 55 : v.length > 55 && v[55] !== "-") return undefined;
  if (v[2] !== "-" || v[35] !== "-" || v[52] !== "-") return undefined;
  const traceId = v.slice(3, 35);
  const spanId = v.slice(36, 52);
  const flags = v.slice(53, 55);
  if (!HEX.test(traceId) || !HEX.test(spanId) || !HEX.test(flags)) return undefined;
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined;
  return { traceId, spanId, flags: parseInt(flags, 16) };
}

/** The `traceparent` header value of a span. */
export function formatTraceparent(trace: TraceContext): string {
  return `00-${trace.traceId}-${trace.spanId}-${
    (trace.flags & 0xff).toString(16).padStart(2, "0")
  }`;
}

/** Two hex digits of every byte value. */
const BYTE_HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** Random bytes drawn in batches: one `getRandomValues` per 4 KiB instead of one per id. */
const pool = new Uint8Array(4096);
let poolUsed = pool.length;

function randomHex(bytes: number): string {
  if (poolUsed + bytes > pool.length) {
    crypto.getRandomValues(pool);
    poolUsed = 0;
  }
  let s = "";
  for (let i = poolUsed; i < poolUsed + bytes; i++) s += BYTE_HEX[pool[i]];
  poolUsed += bytes;
  return s;
}

/** A new random span id. */
export function newSpanId(): string {
  let id = randomHex(8);
  while (id === ZERO_SPAN) id = randomHex(8);
  return id;
}

/** A new random trace id. */
export function newTraceId(): string {
  let id = randomHex(16);
  while (id === ZERO_TRACE) id = randomHex(16);
  return id;
}

/** A new span in the trace of `parent`, or the root span of a new (sampled) trace. */
export function childOf(parent: TraceContext | undefined): TraceContext {
  return parent
    ? { traceId: parent.traceId, spanId: newSpanId(), flags: parent.flags }
    : { traceId: newTraceId(), spanId: newSpanId(), flags: 1 };
}

/** The trace of the call being handled, if any (and if that call is still in progress). */
export function currentTrace(): TraceContext | undefined {
  const scope = storage.getStore();
  return scope?.open ? scope.trace : undefined;
}

/** The trace id of the call being handled, or undefined. */
export function currentTraceId(): string | undefined {
  return currentTrace()?.traceId;
}

/** The `traceparent` of the call being handled, or undefined. */
export function currentTraceparent(): string | undefined {
  const t = currentTrace();
  return t ? formatTraceparent(t) : undefined;
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown })?.then === "function";
}

/**
 * Runs `fn` with `trace` as the current trace (undefined: none). The scope closes when
 * `fn` returns, or when the promise it returns settles.
 */
export function runWithTrace<T>(trace: TraceContext | undefined, fn: () => T): T {
  const scope: Scope = { trace, open: true };
  let async = false;
  try {
    const result = storage.run(scope, fn);
    if (isPromiseLike(result)) {
      async = true;
      const close = () => {
        scope.open = false;
      };
      result.then(close, close);
    }
    return result;
  } finally {
    if (!async) scope.open = false;
  }
}

/** Runs `fn` outside any trace (e.g. to open a long-lived stream). */
export function runWithoutTrace<T>(fn: () => T): T {
  return storage.run({ trace: undefined, open: false }, fn);
}

/**
 * Wraps an async iterable so each step runs with `trace` current; the scope closes when
 * the iteration ends (done, returned early, or failed).
 */
export function traceIterable<T>(
  trace: TraceContext | undefined,
  make: () => AsyncIterable<T>,
): AsyncIterable<T> {
  const scope: Scope = { trace, open: true };
  const close = () => {
    scope.open = false;
  };
  let iterator: AsyncIterator<T> | undefined;
  const get = () => iterator ??= storage.run(scope, () => make()[Symbol.asyncIterator]());
  const step = async (
    f: (it: AsyncIterator<T>) => Promise<IteratorResult<T>> | undefined,
  ): Promise<IteratorResult<T>> => {
    try {
      const r = await storage.run(scope, () => f(get()));
      if (!r || r.done) close();
      return r ?? { done: true, value: undefined };
    } catch (err) {
      close();
      throw err;
    }
  };
  return {
    [Symbol.asyncIterator]: () => ({
      next: () => step((it) => it.next()),
      return: (value?: unknown) =>
        step((it) => it.return?.(value as T) ?? Promise.resolve({ done: true, value: undefined })),
      throw: (err?: unknown) => step((it) => it.throw?.(err) ?? Promise.reject(err)),
    }),
  };
}
