/**
 * Non-blocking, bounded log sinks. A sink queues finished lines and writes them in the
 * background, so the orchestrator's event loop never waits on a slow or stuck stderr
 * reader or a slow disk. When the queue holds more than its byte limit, new lines are
 * dropped and counted; once writing catches up, one line "N log lines dropped" is written.
 */
import { Fifo } from "@callassistant/rpc";

/** Output format of log lines. */
export type LogFormat = "text" | "json";

/** Default queue limit of a sink, in bytes (about: UTF-16 length of the queued lines). */
export const DEFAULT_QUEUE_BYTES = 1024 * 1024;
/** Default size at which the log file is rotated. */
export const DEFAULT_FILE_BYTES = 10 * 1024 * 1024;
/** Default number of rotated log files kept. */
export const DEFAULT_FILE_COUNT = 5;

/** Most bytes handed to one write call. */
const BATCH_BYTES = 64 * 1024;

const encoder = new TextEncoder();

/** Writes all of `bytes` to `w`. */
async function writeAll(w: { write(p: Uint8Array): Promise<number> }, bytes: Uint8Array) {
  let at = 0;
  while (at < bytes.length) at += await w.write(bytes.subarray(at));
}

/** Options of a queued sink. */
export interface QueueOptions {
  /** Queue limit in bytes; lines past it are dropped and counted. Default 1 MiB. */
  maxQueueBytes?: number;
  /** The line written after drops, once the queue has drained. */
  notice?: (dropped: number) => string;
  /** The format this sink wants lines in; the logger's format when unset. */
  format?: LogFormat;
}

/**
 * A bounded queue of lines drained by one background writer. Subclasses write batches;
 * `write` never blocks and never throws.
 */
export abstract class QueuedSink {
  readonly format?: LogFormat;
  readonly #queue = new Fifo<string>();
  #queuedBytes = 0;
  readonly #maxQueueBytes: number;
  readonly #notice: (dropped: number) => string;
  /** Lines dropped since the last notice. */
  #droppedSinceNotice = 0;
  /** Lines dropped in total. */
  dropped = 0;
  /** Lines written in total. */
  written = 0;
  #draining?: Promise<void>;
  #closed = false;

  constructor(options: QueueOptions = {}) {
    this.#maxQueueBytes = options.maxQueueBytes ?? DEFAULT_QUEUE_BYTES;
    this.#notice = options.notice ?? ((n) => `${n} log lines dropped`);
    this.format = options.format;
  }

  /** Bytes (about) waiting to be written. */
  get pendingBytes(): number {
    return this.#queuedBytes;
  }

  /** Queues one line (without newline); drops it when the queue is full. */
  write(line: string): void {
    if (this.#closed) return;
    const cost = line.length + 1;
    if (this.#queuedBytes + cost > this.#maxQueueBytes && this.#queuedBytes > 0) {
      this.dropped++;
      this.#droppedSinceNotice++;
      return;
    }
    this.#queue.push(line);
    this.#queuedBytes += cost;
    this.#draining ??= this.#drain();
  }

  /** Resolves once everything queued so far has been written (or failed). */
  async flush(): Promise<void> {
    while (this.#draining) await this.#draining;
  }

  /** Flushes, then releases the destination; later lines are ignored. */
  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
    await this.release();
  }

  /** Takes lines off the queue, at most about `maxBytes` of them (at least one). */
  #take(maxBytes: number): string[] {
    const out: string[] = [];
    let bytes = 0;
    for (let line = this.#queue.peek(); line !== undefined; line = this.#queue.peek()) {
      if (out.length > 0 && bytes + line.length + 1 > maxBytes) break;
      out.push(line);
      bytes += line.length + 1;
      this.#queue.shift();
    }
    this.#queuedBytes -= bytes;
    return out;
  }

  async #drain(): Promise<void> {
    let failed = false;
    try {
      for (;;) {
        if (this.#queue.size === 0) {
          // After a failed write the notice waits for the next successful one.
          if (this.#droppedSinceNotice === 0 || failed) break;
          // Caught up after drops: say so, once.
          const n = this.#droppedSinceNotice;
          this.#droppedSinceNotice = 0;
          const notice = this.#notice(n);
          this.#queue.push(notice);
          this.#queuedBytes += notice.length + 1;
        }
        const lines = this.#take(BATCH_BYTES);
        try {
          await this.writeLines(lines);
          this.written += lines.length;
          failed = false;
        } catch {
          // The destination failed: these lines are lost; count them.
          this.dropped += lines.length;
          this.#droppedSinceNotice += lines.length;
          failed = true;
        }
      }
    } finally {
      this.#draining = undefined;
    }
  }

  /** Writes a batch of lines (each gets a newline). */
  protected abstract writeLines(lines: string[]): Promise<void>;

  /** Releases the destination. */
  protected release(): Promise<void> {
    return Promise.resolve();
  }
}

/** A sink writing to any async writer (stderr by default). */
export class WriterSink extends QueuedSink {
  readonly #writer: { write(p: Uint8Array): Promise<number> };

  constructor(
    writer: { write(p: Uint8Array): Promise<number> } = Deno.stderr,
    options: QueueOptions = {},
  ) {
    super(options);
    this.#writer = writer;
  }

  protected async writeLines(lines: string[]): Promise<void> {
    await writeAll(this.#writer, encoder.encode(lines.join("\n") + "\n"));
  }
}

/** Options of the rotating file sink. */
export interface RotatingFileOptions extends QueueOptions {
  /** The file, e.g. `<data>/logs/orchestrator.log`; its directory is created. */
  path: string;
  /** Rotate when the file would grow past this. Default 10 MiB. */
  maxBytes?: number;
  /** Rotated files kept (`.1` newest ... `.N` oldest); at least 1. Default 5. */
  files?: number;
}

/**
 * Appends lines to a file and rotates it by size: `path` -> `path.1` -> ... -> `path.N`,
 * the oldest removed. A line is never split across files; a line longer than the limit
 * gets a file of its own.
 */
export class RotatingFileSink extends QueuedSink {
  readonly path: string;
  readonly maxBytes: number;
  readonly files: number;
  readonly #dir: string;
  #file?: Deno.FsFile;
  #size = 0;

  constructor(options: RotatingFileOptions) {
    super(options);
    this.path = options.path;
    this.maxBytes = Math.max(1, options.maxBytes ?? DEFAULT_FILE_BYTES);
    this.files = Math.max(1, options.files ?? DEFAULT_FILE_COUNT);
    this.#dir = this.path.slice(0, Math.max(0, this.path.lastIndexOf("/")));
    // Once, at startup: fail early and clearly when the directory cannot be made.
    if (this.#dir) Deno.mkdirSync(this.#dir, { recursive: true });
  }

  async #open(): Promise<Deno.FsFile> {
    if (!this.#file) {
      const options = { append: true, create: true, mode: 0o640 };
      try {
        this.#file = await Deno.open(this.path, options);
      } catch (err) {
        // The directory was removed while running: make it again, once.
        if (!(err instanceof Deno.errors.NotFound) || !this.#dir) throw err;
        await Deno.mkdir(this.#dir, { recursive: true });
        this.#file = await Deno.open(this.path, options);
      }
      this.#size = (await this.#file.stat()).size;
    }
    return this.#file;
  }

  /** Shifts `path.i` to `path.i+1` (dropping the last) and `path` to `path.1`. */
  async #rotate(): Promise<void> {
    await this.release();
    await Deno.remove(`${this.path}.${this.files}`).catch(() => {});
    for (let i = this.files - 1; i >= 1; i--) {
      await Deno.rename(`${this.path}.${i}`, `${this.path}.${i + 1}`).catch(() => {});
    }
    await Deno.rename(this.path, `${this.path}.1`).catch(() => {});
    this.#size = 0;
  }

  protected async writeLines(lines: string[]): Promise<void> {
    try {
      await this.#append(lines);
    } catch (err) {
      // Reopen next time (the file may have been removed, or the disk was full).
      this.release();
      throw err;
    }
  }

  async #append(lines: string[]): Promise<void> {
    let file = await this.#open();
    let batch: Uint8Array[] = [];
    let batchBytes = 0;
    const flush = async () => {
      if (batchBytes === 0) return;
      const all = new Uint8Array(batchBytes);
      let at = 0;
      for (const b of batch) {
        all.set(b, at);
        at += b.length;
      }
      await writeAll(file, all);
      this.#size += batchBytes;
      batch = [];
      batchBytes = 0;
    };
    for (const line of lines) {
      const bytes = encoder.encode(line + "\n");
      if (this.#size + batchBytes + bytes.length > this.maxBytes && this.#size + batchBytes > 0) {
        await flush();
        await this.#rotate();
        file = await this.#open();
      }
      batch.push(bytes);
      batchBytes += bytes.length;
    }
    await flush();
  }

  protected override release(): Promise<void> {
    try {
      this.#file?.close();
    } catch {
      // Already closed.
    }
    this.#file = undefined;
    return Promise.resolve();
  }
}

const UNITS: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/**
 * Parses a size such as `10485760`, `512K`, `10M`, `10MiB`, `1g` (K, M, G are powers of
 * 1024); undefined when it is not one or not positive.
 */
export function parseByteSize(text: string): number | undefined {
  const m = /^\s*(\d+)\s*(?:([kmg])(?:i?b)?|b)?\s*$/i.exec(text);
  if (!m) return undefined;
  const n = Number(m[1]) * UNITS[(m[2] ?? "").toLowerCase()];
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

/** Parses the `--log-file-size` and `--log-files` flags (defaults 10M and 5). */
export function parseLogFileFlags(
  size: string | undefined,
  files: string | undefined,
): { maxBytes: number; files: number } {
  const maxBytes = size === undefined ? DEFAULT_FILE_BYTES : parseByteSize(size);
  if (maxBytes === undefined) {
    throw new Error(
      `--log-file-size: expected a size such as 10485760, 512K or 10M, got "${size}"`,
    );
  }
  const count = files === undefined ? DEFAULT_FILE_COUNT : Number(files);
  if (!/^\s*\d+\s*$/.test(files ?? "0") || !Number.isInteger(count) || count > 1000) {
    throw new Error(`--log-files: expected a whole number from 0 to 1000, got "${files}"`);
  }
  return { maxBytes, files: count };
}
