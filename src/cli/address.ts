/** Parses listen addresses given on the command line. */
import type { ListenAddress } from "../orchestrator.ts";

/**
 * Parses "host:port", "[v6]:port", ":port" (loopback) or "port". Throws with a clear
 * message naming the flag.
 */
export function parseAddress(flag: string, value: string): ListenAddress {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(value) ?? /^()()(\d+)$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--${flag}: expected host:port (e.g. 127.0.0.1:8080), got "${value}"`);
  }
  return { host: m[1] || m[2] || "127.0.0.1", port };
}

/** True for addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host.startsWith("127.");
}
