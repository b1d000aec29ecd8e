/**
 * Ports for spawning modules: a free one, and waiting until a module listens on it. The tests
 * and benchmarks take their free ports from here too (`tests/helpers/free_ports.ts`).
 */

/** Asks the kernel for a free TCP port on 127.0.0.1. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** A sleep that `wake()` ends early. */
export class Alarm {
  #ring?: () => void;

  /** Resolves after `ms`, or at the next `wake()`, whichever comes first. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#ring = done;
    });
  }

  /** Ends the current sleep now. */
  wake(): void {
    const ring = this.#ring;
    this.#ring = undefined;
    ring?.();
  }
}

/** How `waitForPort` waits. */
export interface WaitForPortOptions {
  /** Aborts the wait (start timeout, process exit). */
  signal: AbortSignal;
  /** Woken to try again at once (the runner wakes it on each line the module writes). */
  alarm?: Alarm;
  /** The delay between tries, in milliseconds (default 25). */
  intervalMs?: number;
}

/**
 * Resolves once something accepts TCP connections on `hostname:port`, retrying every
 * `intervalMs` or as soon as `alarm` is woken (e.g. by the SDK's "listening on ..."
 * line); rejects with the signal's reason when `signal` aborts.
 */
export async function waitForPort(
  hostname: string,
  port: number,
  { signal, alarm = new Alarm(), intervalMs = 25 }: WaitForPortOptions,
): Promise<void> {
  while (!signal.aborted) {
    try {
      const conn = await Deno.connect({ hostname, port });
      conn.close();
      return;
    } catch {
      await alarm.sleep(intervalMs);
    }
  }
  throw signal.reason;
}
