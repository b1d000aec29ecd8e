/**
 * Splits a byte stream into text lines: partial lines are joined across chunks, invalid
 * UTF-8 becomes U+FFFD, and a line longer than `maxLineBytes` is cut with a marker.
 */

/** Marker appended to a line that was cut. */
export const CUT_MARKER = " …[line cut]";

/** Reads `stream` to its end, calling `onLine` for every line (without its newline). */
export async function readLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
  maxLineBytes = 16 * 1024,
): Promise<void> {
  const decoder = new TextDecoder("utf-8", { fatal: false });
  let pending = "";
  let cut = false;
  const flush = (line: string) => onLine(line.endsWith("\r") ? line.slice(0, -1) : line);
  for await (const chunk of stream) {
    pending += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (cut) cut = false;
      else flush(line);
    }
    if (pending.length > maxLineBytes) {
      if (!cut) flush(pending.slice(0, maxLineBytes) + CUT_MARKER);
      cut = true;
      pending = "";
    }
  }
  pending += decoder.decode();
  if (pending.length > 0 && !cut) flush(pending);
}
