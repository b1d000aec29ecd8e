/**
 * A module's log: one line per record on standard error (which the orchestrator captures
 * and tags with the module name), `LEVEL message key=value ...`. Inside a call from the
 * orchestrator each record gets `trace_id=` of that call, so one request can be followed
 * from the gateway through the orchestrator into the module. The orchestrator's
 * `setLogLevel` command changes the level.
 */
import { currentTraceId } from "@callassistant/rpc";

/** Log levels, least serious first. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** True for the four level names. */
export function isLogLevel(value: string): value is LogLevel {
  return Object.hasOwn(RANK, value);
}

function textValue(v: unknown): string {
  const s = typeof v === "string" ? v : JSON.stringify(v) ?? String(v);
  return /[\s"=]/.test(s) || s === "" ? JSON.stringify(s) : s;
}

/** A module's logger. */
export class ModuleLogger {
  #level: LogLevel;
  readonly #write: (line: string) => void;

  constructor(
    write: (line: string) => void = (line) => console.error(line),
    level: LogLevel = "info",
  ) {
    this.#write = write;
    this.#level = level;
  }

  /** The minimum level logged. */
  get level(): LogLevel {
    return this.#level;
  }

  set level(level: LogLevel) {
    this.#level = level;
  }

  /** Logs `msg` with `fields` at `level` (plus `trace_id` inside a traced call). */
  log(level: LogLevel, msg: string, fields: Record<string, unknown> = {}): void {
    if (RANK[level] < RANK[this.#level]) return;
    const all: Record<string, unknown> = { ...fields };
    const traceId = currentTraceId();
    if (traceId && all.trace_id === undefined) all.trace_id = traceId;
    const extra = Object.entries(all)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${textValue(v)}`)
      .join(" ");
    this.#write(`${level.toUpperCase()} ${msg}${extra ? " " + extra : ""}`);
  }

  debug(msg: string, fields?: Record<string, unknown>): void {
    this.log("debug", msg, fields);
  }
  info(msg: string, fields?: Record<string, unknown>): void {
    this.log("info", msg, fields);
  }
  warn(msg: string, fields?: Record<string, unknown>): void {
    this.log("warn", msg, fields);
  }
  error(msg: string, fields?: Record<string, unknown>): void {
    this.log("error", msg, fields);
  }
}
