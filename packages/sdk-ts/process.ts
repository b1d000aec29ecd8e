/**
 * Process plumbing of a module: noticing that the orchestrator is gone (end of file on
 * standard input) and stop signals.
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

/**
 * Reads standard input in the background until end of file, then calls `onEof` once.
 * Does nothing (and returns false) when standard input is not a pipe. Input is discarded.
 */
export function watchStdin(onEof: (reason: string) => void): boolean {
  if (!stdinIsPipe()) return false;
  (async () => {
    const buffer = new Uint8Array(4096);
    let reason = "standard input reached end of file (the orchestrator is gone)";
    try {
      while ((await Deno.stdin.read(buffer)) !== null) {
        // Input carries nothing for now; only its end matters.
      }
    } catch (err) {
      reason = `standard input failed (${err instanceof Error ? err.message : err})`;
    }
    onEof(reason);
  })();
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
