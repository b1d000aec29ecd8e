/** readLines: joined partial lines, split UTF-8, invalid bytes, cut long lines, CRLF. */
import assert from "node:assert/strict";
import { CUT_MARKER, readLines } from "../../src/log/lines.ts";

const enc = new TextEncoder();

/** Reads the lines of a stream made of `chunks`. */
async function linesOf(chunks: (string | number[])[], maxLineBytes?: number): Promise<string[]> {
  const bytes = chunks.map((c) => typeof c === "string" ? enc.encode(c) : new Uint8Array(c));
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const b of bytes) controller.enqueue(b);
      controller.close();
    },
  });
  const out: string[] = [];
  await readLines(stream, (l) => out.push(l), maxLineBytes);
  return out;
}

/** Splits `text`'s bytes at the given offsets. */
function splitAt(text: string, ...at: number[]): number[][] {
  const b = [...enc.encode(text)];
  const cuts = [0, ...at, b.length];
  return cuts.slice(1).map((end, i) => b.slice(cuts[i], end));
}

Deno.test("readLines joins lines split across chunks, also inside a UTF-8 sequence", async () => {
  // "é" is 2 bytes (at 1-2), "€" 3 bytes (at 9-11); cut inside both.
  const text = "héllo wö€rld\nsecond line\n";
  assert.deepEqual(await linesOf(splitAt(text, 2, 10, 11, 16)), ["héllo wö€rld", "second line"]);
  // One byte per chunk.
  const bytes = [...enc.encode(text)].map((b) => [b]);
  assert.deepEqual(await linesOf(bytes), ["héllo wö€rld", "second line"]);
});

Deno.test("readLines turns invalid UTF-8 into U+FFFD and keeps the line", async () => {
  assert.deepEqual(await linesOf([[0x61, 0xff, 0x62, 0x0a], [0xc3, 0x0a], [0xe2, 0x82], "x\n"]), [
    "a\uFFFDb",
    "\uFFFD",
    "\uFFFDx",
  ]);
});

Deno.test("readLines handles CRLF, empty lines and a last line without newline", async () => {
  assert.deepEqual(await linesOf(["a\r\nb\r", "\n\n", "c\rd\r\n", "last"]), [
    "a",
    "b",
    "",
    "c\rd",
    "last",
  ]);
  assert.deepEqual(await linesOf([]), []);
  assert.deepEqual(await linesOf(["\n"]), [""]);
});

Deno.test("readLines cuts an over-long line with the marker and drops its rest", async () => {
  // The long line spans chunks and its rest (many chunks) is dropped up to the newline.
  const rest = Array.from({ length: 50 }, () => "z".repeat(100));
  const lines = await linesOf(["0123456", "789ABC", ...rest, "DEF\nnext\n"], 10);
  assert.deepEqual(lines, ["0123456789" + CUT_MARKER, "next"]);
  // Exactly the limit is not cut; one more byte is.
  assert.deepEqual(await linesOf(["0123456789\n01234567890\n"], 10), [
    "0123456789",
    "0123456789" + CUT_MARKER,
  ]);
  // A long last line without newline is cut too, and nothing follows it.
  assert.deepEqual(await linesOf(["x".repeat(25)], 10), ["x".repeat(10) + CUT_MARKER]);
});

Deno.test("readLines cuts on a character boundary, never inside a UTF-8 sequence", async () => {
  // a(1) é(2) €(3) = 6 bytes; a limit of 5 keeps "aé" (3 bytes), not half of "€".
  assert.deepEqual(await linesOf(["aé€€\n"], 5), ["aé" + CUT_MARKER]);
  assert.deepEqual(await linesOf(["aé€€\n"], 6), ["aé€" + CUT_MARKER]);
});

Deno.test("readLines keeps memory bounded on a huge line without newline", async () => {
  // 64 MiB of one line in 64 KiB chunks: only the first 16 KiB are kept.
  const chunk = new Uint8Array(64 * 1024).fill(0x79);
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent++ < 1024) controller.enqueue(chunk);
      else {
        controller.enqueue(enc.encode("\nafter\n"));
        controller.close();
      }
    },
  });
  const out: string[] = [];
  await readLines(stream, (l) => out.push(l));
  assert.equal(out.length, 2);
  assert.equal(out[0], "y".repeat(16 * 1024) + CUT_MARKER);
  assert.equal(out[1], "after");
});
