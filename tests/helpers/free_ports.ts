/**
 * Free TCP ports on 127.0.0.1 for tests and benchmarks: the orchestrator's own
 * `freePort` (the one way this repository asks the kernel for a port), and a set of
 * distinct ones.
 */
export { freePort } from "../../src/supervisor/ports.ts";

/** `count` distinct free ports: every listener stays open until all are picked. */
export function freePorts(count: number): number[] {
  const listeners = Array.from(
    { length: count },
    () => Deno.listen({ hostname: "127.0.0.1", port: 0 }),
  );
  const ports = listeners.map((l) => (l.addr as Deno.NetAddr).port);
  listeners.forEach((l) => l.close());
  return ports;
}

/** True when something accepts TCP connections on 127.0.0.1:`port`. */
export async function portAnswers(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}
