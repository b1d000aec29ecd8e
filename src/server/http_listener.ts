/**
 * The gateway's HTTP listener: `Deno.serve` on a free port of 127.0.0.1 behind a guarded
 * forwarder on the public address (`@callassistant/rpc`'s tcp_forwarder: a connection
 * limit, header and idle timeouts, which Deno.serve lacks), which also terminates TLS when
 * the orchestrator has a certificate (ALPN h2 and http/1.1). The handler is told the real
 * client address and whether the client came over TLS.
 */
import {
  type ConnectionLimits,
  type Forwarder,
  hostPort,
  startForwarder,
  type TlsFiles,
} from "@callassistant/rpc";
import { ListenError } from "./grpc_server.ts";

/** What the handler learns of each request's connection (Hono's `c.env`). */
export interface HttpEnv {
  /** The client, as the forwarder saw it. */
  remoteAddr: Deno.NetAddr;
  /** True when the client connected over TLS. */
  secure: boolean;
  /**
   * Closes this request's connection shortly after the answer (for a request whose body
   * will not be read to its end: Deno.serve would keep the connection).
   */
  closeConnection(): void;
}

/** A running HTTP listener. */
export interface HttpListener {
  /** The public port. */
  readonly port: number;
  /** Stops accepting, closes every connection, and waits for the server to finish. */
  stop(): Promise<void>;
}

/** Options of {@link startHttpListener}. */
export interface HttpListenerOptions {
  host: string;
  port: number;
  tls?: TlsFiles;
  limits?: ConnectionLimits;
  handler: (request: Request, env: HttpEnv) => Response | Promise<Response>;
}

/** Starts the listener; throws a ListenError with one clear line when it cannot listen. */
export function startHttpListener(options: HttpListenerOptions): HttpListener {
  const abort = new AbortController();
  let forwarder: Forwarder | undefined;
  const secure = options.tls !== undefined;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: abort.signal, onListen: () => {} },
    (request, info) => {
      const local = info.remoteAddr as Deno.NetAddr;
      const remoteAddr = forwarder?.clientOf(local.port) ?? local;
      return options.handler(request, {
        remoteAddr,
        secure,
        closeConnection: () => forwarder?.closeLater(local.port),
      });
    },
  );
  try {
    forwarder = startForwarder({
      hostname: options.host,
      port: options.port,
      targetPort: (server.addr as Deno.NetAddr).port,
      tls: options.tls && { ...options.tls, alpnProtocols: ["h2", "http/1.1"] },
      limits: options.limits,
    });
  } catch (err) {
    abort.abort();
    const message = (err as Error).message;
    const reason = err instanceof Deno.errors.AddrInUse
      ? "address already in use"
      : /KeyMismatch/.test(message)
      ? "the certificate and the key do not match (--tls-cert, --tls-key)"
      : message;
    throw new ListenError(
      `cannot listen for HTTP${secure ? " (TLS)" : ""} on ${
        hostPort(options.host, options.port)
      }: ${reason}`,
    );
  }
  const front = forwarder;
  return {
    port: front.port,
    async stop() {
      front.close();
      abort.abort();
      await server.finished;
    },
  };
}
