/**
 * Process plumbing of a module: the token handed over on standard input, noticing that
 * the orchestrator is gone (end of file on standard input), and stop signals.
 */
import { fstatSync } from "node:fs";

/**
 * True when standard input is a pipe or a socket, as when the orchestrator starts the
 * module. A terminal, /dev/null or a file is not watched: a module started by hand, by
 * systemd or under nohup must not exit at once.
 */
export function stdinIsPipe(): boolean {
  try {
    const stat = fstatSync(0);
    return stat.isFIFO() || stat.isSocket();
  } catch {
    return false;
  }
}

/** Standard input read once, in the background: its first line, then its end. */
let stdinReading: { firstLine: Promise<string | undefined>; end: Promise<string> } | undefined;

/** Starts reading standard input (a pipe) once; later calls share the same reading. */
function readStdin(): { firstLine: Promise<string | undefined>; end: Promise<string> } {
  if (stdinReading) return stdinReading;
  const line = Promise.withResolvers<string | undefined>();
  const end = Promise.withResolvers<string>();
  stdinReading = { firstLine: line.promise, end: end.promise };
  (async () => {
    const buffer = new Uint8Array(4096);
    const decoder = new TextDecoder();
    let first = "";
    let firstDone = false;
    let reason = "standard input reached end of file (the orchestrator is gone)";
    try {
      while (true) {
        const n = await Deno.stdin.read(buffer);
        if (n === null) break;
        // Only the first line carries something (the token); the rest is discarded.
        if (firstDone) continue;
        first += decoder.decode(buffer.subarray(0, n), { stream: true });
        const newline = first.indexOf("\n");
        if (newline >= 0 || first.length > 4096) {
          firstDone = true;
          line.resolve(newline >= 0 ? first.slice(0, newline) : undefined);
        }
      }
    } catch (err) {
      reason = `standard input failed (${err instanceof Error ? err.message : err})`;
    }
    line.resolve(undefined);
    end.resolve(reason);
  })();
  return stdinReading;
}

/**
 * The module token handed over on standard input: the orchestrator sets
 * `MODULE_TOKEN_STDIN=1` and writes one line `MODULE_TOKEN=<token>` right after starting
 * the module. Undefined when standard input is not a pipe, ends first, or the line does
 * not come within `timeoutMs`. Read once, before any report; the end of standard input is
 * still watched afterwards (`watchStdin`).
 */
export async function readStdinToken(timeoutMs = 5_000): Promise<string | undefined> {
  if (!stdinIsPipe()) return undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const line = await Promise.race([
    readStdin().firstLine,
    new Promise<undefined>((resolve) => timer = setTimeout(() => resolve(undefined), timeoutMs)),
  ]);
  clearTimeout(timer);
  return /^MODULE_TOKEN=(\S+)\s*$/.exec(line ?? "")?.[1];
}

/**
 * Calls `onEof` once when standard input reaches end of file (the orchestrator is gone).
 * Does nothing (and returns false) when standard input is not a pipe. Input is discarded.
 */
export function watchStdin(onEof: (reason: string) => void): boolean {
  if (!stdinIsPipe()) return false;
  readStdin().end.then(onEof);
  return true;
}

/** The signals a module stops on. SIGTERM is not available on Windows. */
const STOP_SIGNALS: Deno.Signal[] = Deno.build.os === "windows"
  ? ["SIGINT"]
  : ["SIGTERM", "SIGINT"];

/**
 * Calls `onSignal` with the signal's name on SIGTERM or SIGINT. Returns a function that
 * removes the listeners.
 */
export function onStopSignals(onSignal: (signal: Deno.Signal) => void): () => void {
  const removers: (() => void)[] = [];
  for (const signal of STOP_SIGNALS) {
    const listener = () => onSignal(signal);
    try {
      Deno.addSignalListener(signal, listener);
      removers.push(() => Deno.removeSignalListener(signal, listener));
    } catch {
      // A signal the platform does not support is skipped.
    }
  }
  return () => removers.forEach((remove) => remove());
}
