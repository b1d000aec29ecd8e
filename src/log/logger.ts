/**
 * The orchestrator's structured logger: one line per record to stderr, as readable text or
 * as JSON lines (`--log-format json`).
 */

/** Log levels, least serious first. */
export type Level = "debug" | "info" | "warn" | "error";

/** Output format of log lines. */
export type LogFormat = "text" | "json";

const RANK: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Extra fields of a record. */
export type Fields = Record<string, unknown>;

/** Writes a finished line somewhere (stderr, a rotating file...). */
export type LogSink = (line: string) => void;

const encoder = new TextEncoder();

/** A sink writing synchronously to stderr. */
export const stderrSink: LogSink = (line) => {
  try {
    Deno.stderr.writeSync(encoder.encode(line + "\n"));
  } catch {
    // stderr closed: nothing sensible to do.
  }
};

function textValue(v: unknown): string {
  const s = typeof v === "string" ? v : JSON.stringify(v);
  return /[\s"=]/.test(s) ? JSON.stringify(s) : s;
}

/** A logger with fixed fields; `child` adds more. */
export class Logger {
  constructor(
    private readonly options: { level: Level; format: LogFormat; sinks: LogSink[] },
    private readonly fields: Fields = {},
  ) {}

  /** A logger that adds `fields` to every record. */
  child(fields: Fields): Logger {
    return new Logger(this.options, { ...this.fields, ...fields });
  }

  /** Changes the minimum level of this logger and all its children. */
  setLevel(level: Level): void {
    this.options.level = level;
  }

  /** Formats one record as a line in the configured format. */
  format(level: Level, msg: string, fields: Fields = {}, time = new Date()): string {
    const all = { ...this.fields, ...fields };
    if (this.options.format === "json") {
      return JSON.stringify({ time: time.toISOString(), level, msg, ...all });
    }
    const extra = Object.entries(all)
      .filter(([, v]) => v !== undefined && v !== "")
      .map(([k, v]) => `${k}=${textValue(v)}`)
      .join(" ");
    return `${time.toISOString()} ${level.toUpperCase().padEnd(5)} ${msg}${
      extra ? " " + extra : ""
    }`;
  }

  /** Logs a record at `level` when the logger's level lets it through. */
  log(level: Level, msg: string, fields?: Fields): void {
    if (RANK[level] < RANK[this.options.level]) return;
    const line = this.format(level, msg, fields);
    for (const sink of this.options.sinks) sink(line);
  }

  debug(msg: string, fields?: Fields): void {
    this.log("debug", msg, fields);
  }
  info(msg: string, fields?: Fields): void {
    this.log("info", msg, fields);
  }
  warn(msg: string, fields?: Fields): void {
    this.log("warn", msg, fields);
  }
  error(msg: string, fields?: Fields): void {
    this.log("error", msg, fields);
  }
}

/** A logger to stderr in the given format. */
export function createLogger(format: LogFormat = "text", level: Level = "info"): Logger {
  return new Logger({ level, format, sinks: [stderrSink] });
}
