/**
 * The orchestrator's structured logger: one line per record to stderr, as readable text or
 * as JSON lines (`--log-format json`), and as JSON lines to a size-rotated file in the
 * data directory. Under systemd, stderr lines carry the journal's `<N>` level prefixes
 * (see `journal.ts`). Sinks queue lines and write in the background (see `sinks.ts`): logging
 * never blocks the event loop, and a flood drops lines (counted) instead of growing memory.
 */
import { type LogFormat, type QueuedSink, RotatingFileSink, WriterSink } from "./sinks.ts";
import { currentTraceId } from "@callassistant/rpc";

/** Log levels, least serious first. */
export type Level = "debug" | "info" | "warn" | "error";

const RANK: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** The syslog priority of each level, as the journal reads it from a `<N>` line prefix. */
export const JOURNAL_PRIORITY: Record<Level, number> = { debug: 7, info: 6, warn: 4, error: 3 };

/** Extra fields of a record. */
export type Fields = Record<string, unknown>;

/**
 * Writes a finished line (of a record at `level`) somewhere (stderr, a rotating file...).
 * A sink may ask for its own `format` (the file is always JSON), and may buffer: `flush`
 * and `close` finish it.
 */
export type LogSink = ((line: string, level: Level) => void) & {
  format?: LogFormat;
  flush?: () => Promise<void>;
  close?: () => Promise<void>;
};

/** A LogSink backed by a queued sink. */
export function queuedSink(sink: QueuedSink): LogSink {
  return Object.assign((line: string) => sink.write(line), {
    format: sink.format,
    flush: () => sink.flush(),
    close: () => sink.close(),
    sink,
  });
}

function textValue(v: unknown): string {
  const s = typeof v === "string" ? v : JSON.stringify(v);
  return /[\s"=]/.test(s) ? JSON.stringify(s) : s;
}

/** A logger with fixed fields; `child` adds more. */
export class Logger {
  readonly #options: { level: Level; format: LogFormat; sinks: LogSink[] };
  readonly #fields: Fields;

  constructor(
    options: { level: Level; format: LogFormat; sinks: LogSink[] },
    fields: Fields = {},
  ) {
    this.#options = options;
    this.#fields = fields;
  }

  /** A logger that adds `fields` to every record. */
  child(fields: Fields): Logger {
    return new Logger(this.#options, { ...this.#fields, ...fields });
  }

  /** Changes the minimum level of this logger and all its children. */
  setLevel(level: Level): void {
    this.#options.level = level;
  }

  /** Formats one record as a line in the configured format (or `as`). */
  format(
    level: Level,
    msg: string,
    fields: Fields = {},
    time = new Date(),
    as: LogFormat = this.#options.format,
  ): string {
    const all = { ...this.#fields, ...fields };
    if (as === "json") {
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

  /**
   * Logs a record at `level` when the logger's level lets it through. Inside a traced
   * call (see `@callassistant/rpc`, `trace_context.ts`) the record gets a `trace_id` field.
   */
  log(level: Level, msg: string, fields?: Fields): void {
    if (RANK[level] < RANK[this.#options.level]) return;
    const traceId = currentTraceId();
    if (traceId && fields?.trace_id === undefined && this.#fields.trace_id === undefined) {
      fields = { ...fields, trace_id: traceId };
    }
    const time = new Date();
    const lines: Partial<Record<LogFormat, string>> = {};
    for (const sink of this.#options.sinks) {
      const as = sink.format ?? this.#options.format;
      sink(lines[as] ??= this.format(level, msg, fields, time, as), level);
    }
  }

  /** Resolves when every line logged so far has been written. */
  async flush(): Promise<void> {
    await Promise.all(this.#options.sinks.map((s) => s.flush?.()));
  }

  /** Flushes and closes the sinks (the log file); call once, at exit. */
  async close(): Promise<void> {
    await Promise.all(this.#options.sinks.map((s) => s.close?.()));
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

/** Where else `createLogger` logs. */
export interface LoggerOptions {
  /** A size-rotated file of JSON lines, e.g. `<data>/logs/orchestrator.log`. */
  file?: { path: string; maxBytes?: number; files?: number };
  /** Queue limit of each sink in bytes (default 1 MiB); past it lines are dropped. */
  maxQueueBytes?: number;
  /** Where the stderr lines go; Deno.stderr by default (tests pass a slow writer). */
  stderr?: { write(p: Uint8Array): Promise<number> };
  /**
   * stderr is the systemd journal (see `journal.ts`): each stderr line starts with its
   * level as `<N>` (the journal's priority), and text lines leave out the time, which the
   * journal records itself.
   */
  journal?: boolean;
}

/**
 * A logger to stderr in the given format and, with `options.file`, to a rotated file of
 * JSON lines. Both write in the background; see `Logger.close` to finish at exit.
 */
export function createLogger(
  format: LogFormat = "text",
  level: Level = "info",
  options: LoggerOptions = {},
): Logger {
  const sinks: LogSink[] = [];
  const logger = new Logger({ level, format, sinks });
  // Lines about dropped lines are formatted by the logger itself, in each sink's format.
  const notice = (as: LogFormat) => (dropped: number) =>
    logger.format("warn", `${dropped} log lines dropped`, { dropped }, new Date(), as);
  const queue = { maxQueueBytes: options.maxQueueBytes };
  const stderr = options.stderr ?? Deno.stderr;
  if (options.journal) {
    const journalNotice = (dropped: number) =>
      `<${JOURNAL_PRIORITY.warn}>${notice(format)(dropped)}`;
    const sink = queuedSink(new WriterSink(stderr, { ...queue, format, notice: journalNotice }));
    // A text line starts with its ISO time and a space: the journal stamps lines itself.
    const body = (line: string) => format === "text" ? line.slice(line.indexOf(" ") + 1) : line;
    sinks.push(Object.assign(
      (line: string, level: Level) => sink(`<${JOURNAL_PRIORITY[level]}>${body(line)}`, level),
      { format, flush: sink.flush, close: sink.close },
    ));
  } else {
    sinks.push(queuedSink(new WriterSink(stderr, { ...queue, format, notice: notice(format) })));
  }
  if (options.file) {
    sinks.push(queuedSink(
      new RotatingFileSink({ ...options.file, ...queue, format: "json", notice: notice("json") }),
    ));
  }
  return logger;
}
