/**
 * Splits a byte stream into text lines: partial lines are joined across chunks, invalid
 * UTF-8 becomes U+FFFD, a trailing CR is dropped (CRLF), and a line longer than
 * `maxLineBytes` is cut with a marker and the rest of that line is dropped. Lines are split
 * on bytes (a newline byte never occurs inside a UTF-8 sequence), so memory is bounded by
 * `maxLineBytes` plus one chunk whatever the stream holds.
 */

/** Marker appended to a line that was cut. */
export const CUT_MARKER = " …[line cut]";

/** Default longest line kept, in bytes. */
export const MAX_LINE_BYTES = 16 * 1024;

const NL = 0x0a;
const CR = 0x0d;

/** The length of `bytes[0, end)` backed off so it does not end inside a UTF-8 sequence. */
function charBoundary(bytes: Uint8Array, end: number): number {
  let i = end;
  // Step back over continuation bytes (10xxxxxx) to the lead byte of the last sequence.
  while (i > 0 && end - i < 4 && (bytes[i - 1] & 0xc0) === 0x80) i--;
  if (i === 0 || end - i >= 4) return end;
  const lead = bytes[i - 1];
  const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  // A complete (or not multi-byte) last sequence stays; an incomplete one is cut off.
  return end - (i - 1) >= need ? end : i - 1;
}

/**
 * Splits bytes into lines incrementally; `push` chunks, then `end` once. Used by
 * `readLines`, and directly where a stream is not at hand.
 */
export class LineSplitter {
  readonly #decoder = new TextDecoder("utf-8", { fatal: false });
  /** Bytes of the current partial line (at most `maxLineBytes`). */
  #parts: Uint8Array[] = [];
  #partBytes = 0;
  /** True while dropping the rest of a line that was cut. */
  #cutting = false;

  readonly #onLine: (line: string) => void;

  constructor(
    onLine: (line: string) => void,
    readonly maxLineBytes = MAX_LINE_BYTES,
  ) {
    this.#onLine = onLine;
  }

  /** Feeds one chunk. */
  push(chunk: Uint8Array): void {
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(NL, start);
      const end = nl < 0 ? chunk.length : nl;
      if (!this.#cutting) this.#append(chunk.subarray(start, end));
      if (nl < 0) break;
      if (this.#cutting) this.#cutting = false;
      else this.#emit();
      start = nl + 1;
    }
  }

  /** Flushes a last line without a newline. */
  end(): void {
    if (!this.#cutting && this.#partBytes > 0) this.#emit();
    this.#parts = [];
    this.#partBytes = 0;
    this.#cutting = false;
  }

  #append(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    const room = this.maxLineBytes - this.#partBytes;
    if (bytes.length <= room) {
      // Copy: the chunk's buffer may be reused by the reader.
      this.#parts.push(bytes.slice());
      this.#partBytes += bytes.length;
      return;
    }
    // Over-long: keep what fits (on a character boundary), emit with the marker, and drop
    // the rest of the line up to its newline.
    if (room > 0) {
      this.#parts.push(bytes.slice(0, room));
      this.#partBytes += room;
    }
    const all = this.#join();
    this.#parts = [];
    this.#partBytes = 0;
    this.#cutting = true;
    this.#onLine(this.#decoder.decode(all.subarray(0, charBoundary(all, all.length))) + CUT_MARKER);
  }

  #join(): Uint8Array {
    if (this.#parts.length === 1) return this.#parts[0];
    const all = new Uint8Array(this.#partBytes);
    let at = 0;
    for (const p of this.#parts) {
      all.set(p, at);
      at += p.length;
    }
    return all;
  }

  #emit(): void {
    let all = this.#join();
    this.#parts = [];
    this.#partBytes = 0;
    if (all.length > 0 && all[all.length - 1] === CR) all = all.subarray(0, all.length - 1);
    this.#onLine(this.#decoder.decode(all));
  }
}

/** How long `readLines` may run before it lets the event loop do other work. */
const SLICE_MS = 4;

/**
 * Reads `stream` to its end, calling `onLine` for every line (without its newline).
 *
 * A pipe that always has data (a module writing as fast as it can) completes every read at
 * once, so the loop alone would never give the event loop a turn; it yields to the event
 * loop every few milliseconds. The writer then waits on a full pipe: a flood slows the
 * flooding module, not the orchestrator.
 */
export async function readLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
  maxLineBytes = MAX_LINE_BYTES,
): Promise<void> {
  const splitter = new LineSplitter(onLine, maxLineBytes);
  let sliceStart = performance.now();
  for await (const chunk of stream) {
    splitter.push(chunk);
    if (performance.now() - sliceStart >= SLICE_MS) {
      await new Promise((r) => setTimeout(r, 0));
      sliceStart = performance.now();
    }
  }
  splitter.end();
}
