/**
 * TLS for the gRPC listener. grpc-js's TLS server does not work on Deno 2.9's
 * `node:http2` (the handshake fails), so the orchestrator terminates TLS itself with
 * `Deno.listenTls` (ALPN `h2`) and pipes each connection to the plaintext gRPC server,
 * which then listens on loopback only.
 */

/** A certificate chain and its private key, PEM. */
export interface TlsFiles {
  cert: string;
  key: string;
}

/** A running terminator. */
export interface TlsTerminator {
  /** The port it listens on. */
  readonly port: number;
  /** Stops accepting and closes every connection. */
  close(): void;
}

/**
 * Accepts TLS on `host:port` and forwards each connection to `127.0.0.1:targetPort`.
 * Throws when it cannot listen (port in use, unusable certificate or key). A client that
 * fails the handshake (plaintext, unknown CA) only loses its own connection.
 */
export function startTlsTerminator(
  host: string,
  port: number,
  tls: TlsFiles,
  targetPort: number,
): TlsTerminator {
  const listener = Deno.listenTls({
    hostname: host,
    port,
    cert: tls.cert,
    key: tls.key,
    alpnProtocols: ["h2"],
  });
  const open = new Set<Deno.Conn>();
  const forward = async (client: Deno.TlsConn) => {
    let upstream: Deno.Conn | undefined;
    open.add(client);
    try {
      await client.handshake();
      upstream = await Deno.connect({ hostname: "127.0.0.1", port: targetPort });
      open.add(upstream);
      await Promise.all([
        client.readable.pipeTo(upstream.writable),
        upstream.readable.pipeTo(client.writable),
      ]);
    } catch {
      // A failed handshake or a reset: this connection ends, nothing else does.
    } finally {
      for (const conn of [client, upstream]) {
        if (!conn) continue;
        open.delete(conn);
        try {
          conn.close();
        } catch {
          // Already closed by the pipe.
        }
      }
    }
  };
  (async () => {
    try {
      for await (const client of listener) forward(client);
    } catch {
      // The listener was closed.
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    close() {
      try {
        listener.close();
      } catch {
        // Already closed.
      }
      for (const conn of open) {
        try {
          conn.close();
        } catch {
          // Already closed.
        }
      }
      open.clear();
    },
  };
}
