/**
 * A bounded in-memory tail of one module's output lines, with followers that get new
 * lines as they come. Memory is bounded by the line count and the line length.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { LogEntrySchema } from "../gen/callassistant/v1/control_pb.ts";
import { LogStream } from "../gen/callassistant/v1/control_pb.ts";

/** One captured line. */
export interface LogLine {
  time: Date;
  module: string;
  pid: number;
  restart: number;
  stream: "stdout" | "stderr";
  line: string;
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
    sequence: BigInt(l.sequence),
  };
}

/** The tail of a module's output. */
export class ModuleLog {
  private lines: LogLine[] = [];
  private sequence = 0;
  private followers = new Set<(line: LogLine) => void>();

  constructor(readonly capacity = 1000) {}

  /** Appends a line, dropping the oldest past the capacity, and tells followers. */
  push(line: Omit<LogLine, "sequence">): LogLine {
    const entry = { ...line, sequence: ++this.sequence };
    this.lines.push(entry);
    if (this.lines.length > this.capacity) this.lines.splice(0, this.lines.length - this.capacity);
    for (const f of this.followers) f(entry);
    return entry;
  }

  /** The last `n` lines, oldest first. */
  tail(n: number): LogLine[] {
    return this.lines.slice(-n);
  }

  /** The last `n` lines of one stream. */
  tailOf(stream: "stdout" | "stderr", n: number): string[] {
    return this.lines.filter((l) => l.stream === stream).slice(-n).map((l) => l.line);
  }

  /**
   * Yields the last `tail` lines, then (when `follow`) new lines until `signal` aborts.
   * A follower that falls more than `capacity` lines behind skips to the newest.
   */
  async *read(tail: number, follow: boolean, signal: AbortSignal): AsyncIterable<LogLine> {
    const queue: LogLine[] = [];
    let wake: (() => void) | undefined;
    const onLine = (l: LogLine) => {
      queue.push(l);
      if (queue.length > this.capacity) queue.splice(0, queue.length - this.capacity);
      wake?.();
    };
    if (follow) this.followers.add(onLine);
    const onAbort = () => wake?.();
    signal.addEventListener("abort", onAbort);
    try {
      for (const l of this.tail(tail)) yield l;
      while (follow && !signal.aborted) {
        if (queue.length === 0) await new Promise<void>((r) => wake = r);
        wake = undefined;
        while (queue.length > 0 && !signal.aborted) yield queue.shift()!;
      }
    } finally {
      this.followers.delete(onLine);
      signal.removeEventListener("abort", onAbort);
    }
  }
}
