/**
 * A bounded in-memory tail of one module's output lines, with followers that get new
 * lines as they come, and the rate-limited echo of those lines to the orchestrator log.
 *
 * Memory is bounded whatever the module writes: the tail keeps at most `capacity` lines
 * and about `maxBytes` of text (lines are already cut by `readLines`), each follower
 * queues at most as much and skips to the newest lines with a marker when it falls
 * behind, and the echo to the logger is limited to a rate per module (the tail still gets
 * every line).
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { LogEntrySchema } from "@callassistant/protocol";
import { LogStream, type Severity } from "@callassistant/protocol";
import { echoLevel, lineLevel } from "./line_level.ts";
import type { Logger } from "./logger.ts";
import { TokenBucket } from "../async/token_bucket.ts";

/** One captured line. */
export interface LogLine {
  time: Date;
  module: string;
  pid: number;
  restart: number;
  stream: "stdout" | "stderr";
  line: string;
  /** The line's level by the module log convention (see `line_level.ts`). */
  level: Severity;
  sequence: number;
}

/** Converts a captured line to its proto form. */
export function logEntryOf(l: LogLine): MessageInitShape<typeof LogEntrySchema> {
  return {
    time: timestampFromDate(l.time),
    module: l.module,
    pid: l.pid,
    restart: l.restart,
    stream: l.stream === "stdout" ? LogStream.STDOUT : LogStream.STDERR,
    line: l.line,
    level: l.level,
    sequence: BigInt(l.sequence),
  };
}

/** Approximate memory of a line: its text (UTF-16) plus the record around it. */
function costOf(l: LogLine): number {
  return l.line.length * 2 + 100;
}

/** The text of the line a follower gets in place of lines it skipped. */
export function skippedMarker(n: number): string {
  return `…[${n} line${n === 1 ? "" : "s"} skipped: reader too slow]`;
}

/** A FIFO of lines bounded by count and bytes; the oldest go first. */
class LineRing {
  #items: (LogLine | undefined)[];
  #head = 0;
  length = 0;
  bytes = 0;

  constructor(readonly capacity: number, readonly maxBytes: number) {
    this.#items = new Array(Math.max(1, capacity));
  }

  /** Appends, evicting the oldest past the bounds (each passed to `evicted`). */
  push(l: LogLine, evicted?: (l: LogLine) => void): void {
    const cap = this.#items.length;
    if (this.length === cap) {
      const old = this.shift()!;
      if (evicted) evicted(old);
    }
    this.#items[(this.#head + this.length) % cap] = l;
    this.length++;
    this.bytes += costOf(l);
    while (this.bytes > this.maxBytes && this.length > 1) {
      const old = this.shift()!;
      if (evicted) evicted(old);
    }
  }

  shift(): LogLine | undefined {
    if (this.length === 0) return undefined;
    const l = this.#items[this.#head]!;
    this.#items[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.#items.length;
    this.length--;
    this.bytes -= costOf(l);
    return l;
  }

  /** The last `n` lines, oldest first. */
  last(n: number): LogLine[] {
    const k = Math.max(0, Math.min(n, this.length));
    const out: LogLine[] = new Array(k);
    const cap = this.#items.length;
    for (let i = 0; i < k; i++) out[i] = this.#items[(this.#head + this.length - k + i) % cap]!;
    return out;
  }

  /** Every line, oldest first. */
  all(): LogLine[] {
    return this.last(this.length);
  }
}

/** Limits on a module's log. */
export interface ModuleLogOptions {
  /** Lines kept in the tail, and queued per follower. Default 1000. */
  capacity?: number;
  /** About this many bytes kept in the tail, and queued per follower. Default 1 MiB. */
  maxBytes?: number;
  /** Lines per second echoed to the orchestrator log, on average. Default 200. */
  echoPerSecond?: number;
  /** Lines echoed in a burst before the rate applies. Default 1000. */
  echoBurst?: number;
}

/** The tail of a module's output. */
export class ModuleLog {
  readonly capacity: number;
  readonly maxBytes: number;
  readonly #ring: LineRing;
  #sequence = 0;
  #followers = new Set<(line: LogLine) => void>();
  // Echo rate limit: a token bucket, and lines suppressed since the last summary.
  readonly #echoBucket: TokenBucket;
  #suppressed = 0;
  #summaryTimer?: ReturnType<typeof setTimeout>;
  #echoLogger?: Logger;

  constructor(options: ModuleLogOptions | number = {}) {
    const o = typeof options === "number" ? { capacity: options } : options;
    this.capacity = Math.max(1, o.capacity ?? 1000);
    this.maxBytes = o.maxBytes ?? 1024 * 1024;
    this.#ring = new LineRing(this.capacity, this.maxBytes);
    this.#echoBucket = new TokenBucket({
      perSecond: o.echoPerSecond ?? 200,
      burst: o.echoBurst ?? 1000,
    });
  }

  /** Lines and approximate bytes held in the tail. */
  get size(): { lines: number; bytes: number } {
    return { lines: this.#ring.length, bytes: this.#ring.bytes };
  }

  /** The sequence number of the latest line (0 before any). */
  get lastSequence(): number {
    return this.#sequence;
  }

  /**
   * Appends a line with its level (read from the line unless given), dropping the oldest
   * past the bounds, and tells followers.
   */
  push(line: Omit<LogLine, "sequence" | "level"> & { level?: Severity }): LogLine {
    const entry = {
      ...line,
      level: line.level ?? lineLevel(line.line),
      sequence: ++this.#sequence,
    };
    this.#ring.push(entry);
    for (const f of this.#followers) f(entry);
    return entry;
  }

  /**
   * Echoes a captured line to `logger` at the line's own level (tagged module, pid, restart
   * and stream) unless the module is over its echo rate; suppressed lines are summarized in one warning per
   * second ("module X: N lines suppressed"). The tail is not affected.
   */
  echo(logger: Logger, entry: LogLine): void {
    if (this.#echoBucket.take()) {
      logger.log(echoLevel(entry.level), entry.line, {
        module: entry.module,
        pid: entry.pid,
        restart: entry.restart,
        stream: entry.stream,
      });
      return;
    }
    this.#suppressed++;
    this.#echoLogger = logger;
    if (this.#summaryTimer === undefined) {
      const timer = setTimeout(() => this.#summarize(entry.module), 1000);
      Deno.unrefTimer(timer);
      this.#summaryTimer = timer;
    }
  }

  /** Logs how many lines were not echoed since the last summary. */
  #summarize(module: string): void {
    this.#summaryTimer = undefined;
    const n = this.#suppressed;
    if (n === 0 || !this.#echoLogger) return;
    this.#suppressed = 0;
    this.#echoLogger.warn(`module ${module}: ${n} lines suppressed`, {
      module,
      suppressed: n,
      reason:
        `over ${this.#echoBucket.rate.perSecond} lines/s; all lines stay in the module's log tail`,
    });
  }

  /** The last `n` lines, oldest first. */
  tail(n: number): LogLine[] {
    return this.#ring.last(n);
  }

  /** The last `n` lines of one stream. */
  tailOf(stream: "stdout" | "stderr", n: number): string[] {
    return this.#ring.all().filter((l) => l.stream === stream).slice(-n).map((l) => l.line);
  }

  /**
   * Yields the last `tail` lines, then (when `follow`) new lines until `signal` aborts.
   * A follower queues at most `capacity` lines and about `maxBytes`; past that it skips
   * its oldest queued lines and gets one marker line saying how many it missed.
   */
  async *read(tail: number, follow: boolean, signal: AbortSignal): AsyncIterable<LogLine> {
    const queue = new LineRing(this.capacity, this.maxBytes);
    let skipped = 0;
    let lastSkipped: LogLine | undefined;
    const onSkip = (l: LogLine) => {
      skipped++;
      lastSkipped = l;
    };
    let wake: (() => void) | undefined;
    const onLine = (l: LogLine) => {
      queue.push(l, onSkip);
      wake?.();
    };
    if (follow) this.#followers.add(onLine);
    const onAbort = () => wake?.();
    signal.addEventListener("abort", onAbort);
    try {
      for (const l of this.tail(tail)) {
        if (signal.aborted) return;
        yield l;
      }
      while (follow && !signal.aborted) {
        if (queue.length === 0) {
          await new Promise<void>((r) => wake = r);
          wake = undefined;
        }
        while (queue.length > 0 && !signal.aborted) {
          if (skipped > 0) {
            // The marker stands for the skipped lines: it takes the last one's sequence,
            // so sequences (and SSE ids) still increase.
            const marker: LogLine = { ...lastSkipped!, line: skippedMarker(skipped) };
            skipped = 0;
            lastSkipped = undefined;
            yield marker;
            continue;
          }
          yield queue.shift()!;
        }
      }
    } finally {
      this.#followers.delete(onLine);
      signal.removeEventListener("abort", onAbort);
    }
  }
}
