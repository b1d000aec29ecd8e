/**
 * TLS for a gRPC listener. grpc-js's TLS server does not work on Deno 2.9's
 * `node:http2` (the handshake fails), so TLS is terminated with `Deno.listenTls` (ALPN
 * `h2`) by a guarded forwarder (see `tcp_forwarder.ts`: connection limit, handshake and
 * header timeouts) that pipes each connection to the plaintext gRPC server, which then
 * listens on loopback only.
 */
import type { TlsFiles } from "./pem.ts";
import { type ConnectionLimits, startForwarder } from "./tcp_forwarder.ts";

export type { TlsFiles } from "./pem.ts";

/** A running terminator. */
export interface TlsTerminator {
  /** The port it listens on. */
  readonly port: number;
  /** Stops accepting and closes every connection. */
  close(): void;
}

/** Options of {@link startTlsTerminator}. */
export interface TlsTerminatorOptions {
  /** Where it accepts TLS; port 0 for a free one. */
  host: string;
  port: number;
  tls: TlsFiles;
  /** The plaintext server on 127.0.0.1 each connection is forwarded to. */
  targetPort: number;
  limits?: ConnectionLimits;
}

/**
 * Accepts TLS on `host:port` and forwards each connection to `127.0.0.1:targetPort`.
 * Throws when it cannot listen (port in use, unusable certificate or key). A client that
 * fails the handshake (plaintext, unknown CA), or does not finish it within the limits,
 * only loses its own connection.
 */
export function startTlsTerminator(options: TlsTerminatorOptions): TlsTerminator {
  const { host, port, tls, targetPort, limits } = options;
  const forwarder = startForwarder({
    hostname: host,
    port,
    targetPort,
    tls: { ...tls, alpnProtocols: ["h2"] },
    limits,
  });
  return { port: forwarder.port, close: () => forwarder.close() };
}
