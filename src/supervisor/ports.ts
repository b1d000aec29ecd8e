/** Port helpers for spawning modules. */

/** Asks the kernel for a free TCP port on 127.0.0.1. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/**
 * Resolves once something accepts TCP connections on `hostname:port`, retrying every
 * `intervalMs`; rejects when `signal` aborts (start timeout, process exit).
 */
export async function waitForPort(
  hostname: string,
  port: number,
  signal: AbortSignal,
  intervalMs = 25,
): Promise<void> {
  while (!signal.aborted) {
    try {
      const conn = await Deno.connect({ hostname, port });
      conn.close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }
  throw signal.reason;
}
