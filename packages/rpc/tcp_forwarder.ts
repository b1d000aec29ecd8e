/**
 * A guarded TCP (or TLS) front for a server on 127.0.0.1: it accepts connections on the
 * public address, optionally terminates TLS, and forwards each connection's bytes to the
 * server, closing the connections that would otherwise be held forever. Deno.serve and
 * grpc-js on Deno offer no header or idle timeouts and no connection limit, so a client
 * that sends its headers one byte at a time (slowloris), or starts a request and goes
 * silent, keeps its socket and memory until it goes away.
 *
 * - At most `maxConnections` at once. At the limit, the connection quiet the longest (no
 *   byte either way for `evictQuietMs` or more) is closed to make room; if none is that
 *   quiet, the new connection is closed at once.
 * - `headersTimeoutMs` after accepting, the client must have finished the TLS handshake and
 *   its first request's header block (HTTP/1: the blank line; HTTP/2: the preface).
 * - A client that has sent something the server has not answered, and then nothing for
 *   `idleTimeoutMs`, is closed (a request left half-sent). A connection whose server
 *   spoke last is never closed for being quiet (a stream waiting for news, a kept-alive
 *   connection), except to make room at the limit.
 */
import type { TlsFiles } from "./pem.ts";

/** Limits of a forwarder's connections (see the module comment). */
export interface ConnectionLimits {
  /** Connections open at once. Default 512. */
  maxConnections?: number;
  /** Accept to the end of the first header block (TLS handshake included). Default 10 000 ms. */
  headersTimeoutMs?: number;
  /** Client silence, with its last bytes unanswered, before closing. Default 60 000 ms. */
  idleTimeoutMs?: number;
  /** How quiet a connection must be to be closed for a new one at the limit. Default 10 000 ms. */
  evictQuietMs?: number;
}

/** Where and how a forwarder listens. */
export interface ForwarderOptions {
  hostname: string;
  port: number;
  /** The server's port on 127.0.0.1. */
  targetPort: number;
  /** Terminate TLS with this certificate and key, offering these ALPN protocols. */
  tls?: TlsFiles & { alpnProtocols: string[] };
  limits?: ConnectionLimits;
  /** Told when a connection is closed by a limit (for logs and metrics). */
  onClosed?: (reason: "headers_timeout" | "idle_timeout" | "evicted" | "over_limit") => void;
}

/** A running forwarder. */
export interface Forwarder {
  /** The port it listens on. */
  readonly port: number;
  /** Connections open now. */
  readonly openConnections: number;
  /**
   * The client behind a connection the server sees from 127.0.0.1:`upstreamPort`, so the
   * server can tell who is calling; undefined when unknown.
   */
  clientOf(upstreamPort: number): Deno.NetAddr | undefined;
  /**
   * Closes the connection the server sees from 127.0.0.1:`upstreamPort` after `delayMs`
   * (time for an answer already written to reach the client): for a server that answered
   * a request it will not finish reading (Deno.serve keeps such a connection open).
   */
  closeLater(upstreamPort: number, delayMs?: number): void;
  /** Stops accepting and closes every connection. */
  close(): void;
}

const DEFAULTS: Required<ConnectionLimits> = {
  maxConnections: 512,
  headersTimeoutMs: 10_000,
  idleTimeoutMs: 60_000,
  evictQuietMs: 10_000,
};
const HTTP2_PREFACE = "PRI * HTTP/2.0";
const HEADERS_END = [13, 10, 13, 10];
/** How often limits are checked. */
const SWEEP_MS = 500;

/** One forwarded connection and what is known of its traffic. */
class Connection {
  upstream?: Deno.Conn;
  readonly acceptedAt = Date.now();
  lastClientByte = 0;
  lastServerByte = 0;
  /** The first header block (or HTTP/2 preface) has fully arrived. */
  headersDone = false;
  /**
   * The client speaks HTTP/2: both sides send frames at any time (acknowledgements,
   * window updates), so who spoke last says nothing about a request left half-sent.
   */
  http2 = false;
  /** The first bytes, until the protocol is known. */
  #start = "";
  /** How many bytes of HEADERS_END the data so far ends with. */
  #matched = 0;
  #closed = false;

  constructor(readonly client: Deno.Conn, readonly remote: Deno.NetAddr) {}

  /** Quiet since, in ms (no byte either way). */
  quietFor(now: number): number {
    return now - Math.max(this.acceptedAt, this.lastClientByte, this.lastServerByte);
  }

  fromClient(chunk: Uint8Array): void {
    this.lastClientByte = Date.now();
    if (this.headersDone) return;
    if (this.#start.length < HTTP2_PREFACE.length) {
      this.#start += String.fromCharCode(...chunk.subarray(0, HTTP2_PREFACE.length));
      this.http2 = this.#start.startsWith(HTTP2_PREFACE);
    }
    // The HTTP/2 preface ends with the same blank line as an HTTP/1 header block.
    for (const byte of chunk) {
      this.#matched = byte === HEADERS_END[this.#matched] ? this.#matched + 1 : byte === 13 ? 1 : 0;
      if (this.#matched === HEADERS_END.length) {
        this.headersDone = true;
        return;
      }
    }
  }

  fromServer(): void {
    this.lastServerByte = Date.now();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const conn of [this.client, this.upstream]) {
      try {
        conn?.close();
      } catch {
        // Already closed.
      }
    }
  }
}

/** Copies `from` to `to` until end of file, telling `onChunk` of each chunk. */
async function pump(from: Deno.Conn, to: Deno.Conn, onChunk: (c: Uint8Array) => void) {
  const buffer = new Uint8Array(64 * 1024);
  while (true) {
    const n = await from.read(buffer);
    if (n === null) break;
    const chunk = buffer.subarray(0, n);
    onChunk(chunk);
    for (let sent = 0; sent < n;) sent += await to.write(chunk.subarray(sent));
  }
  // Half-close: the other side may still answer.
  await to.closeWrite().catch(() => {});
}

/** Pumps both ways between `a` and `b` until both directions end; then closes both. */
async function relay(
  a: Deno.Conn,
  b: Deno.Conn,
  onAtoB?: (c: Uint8Array) => void,
  onBtoA?: (c: Uint8Array) => void,
): Promise<void> {
  try {
    await Promise.all([pump(a, b, onAtoB ?? (() => {})), pump(b, a, onBtoA ?? (() => {}))]);
  } catch {
    // A reset, or a side closed by a limit: the other side goes too.
  } finally {
    for (const conn of [a, b]) {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
  }
}

/**
 * Listens on `hostname:port` and forwards to `127.0.0.1:targetPort`. Throws when it
 * cannot listen (port in use, unusable certificate or key).
 *
 * With TLS there are two stages: the public TCP listener (whose sockets can always be
 * closed) relays to a `Deno.listenTls` on loopback that terminates TLS and relays to the
 * server. A TLS connection that never finishes its handshake cannot be closed from
 * `Deno.listenTls` itself (Deno 2.9.3 keeps the socket), but its public TCP side can.
 */
export function startForwarder(options: ForwarderOptions): Forwarder {
  const limits = { ...DEFAULTS, ...options.limits };
  const listener = Deno.listen({ hostname: options.hostname, port: options.port });
  let tlsStage: Deno.TlsListener | undefined;
  try {
    tlsStage = options.tls && Deno.listenTls({
      hostname: "127.0.0.1",
      port: 0,
      cert: options.tls.cert,
      key: options.tls.key,
      alpnProtocols: options.tls.alpnProtocols,
    });
  } catch (err) {
    listener.close();
    throw err;
  }
  const open = new Set<Connection>();
  /** Connections by the local port of their socket to the next stage. */
  const byStagePort = new Map<number, Connection>();
  /** Connections by the local port of their socket to the server (for `clientOf`). */
  const byServerPort = new Map<number, Connection>();

  const drop = (
    conn: Connection,
    reason: Parameters<NonNullable<ForwarderOptions["onClosed"]>>[0],
  ) => {
    conn.close();
    options.onClosed?.(reason);
  };

  const sweep = setInterval(() => {
    const now = Date.now();
    for (const conn of open) {
      if (!conn.headersDone && now - conn.acceptedAt > limits.headersTimeoutMs) {
        drop(conn, "headers_timeout");
      } else if (
        !conn.http2 && conn.lastClientByte > conn.lastServerByte &&
        now - conn.lastClientByte > limits.idleTimeoutMs
      ) {
        drop(conn, "idle_timeout");
      }
    }
  }, SWEEP_MS);
  Deno.unrefTimer(sweep);

  /** Makes room for one more connection; false when none may be closed for it. */
  const makeRoom = (): boolean => {
    if (open.size < limits.maxConnections) return true;
    const now = Date.now();
    let quietest: Connection | undefined;
    for (const conn of open) {
      if (!quietest || conn.quietFor(now) > quietest.quietFor(now)) quietest = conn;
    }
    if (!quietest || quietest.quietFor(now) < limits.evictQuietMs) return false;
    drop(quietest, "evicted");
    open.delete(quietest);
    return true;
  };

  /** Relays plaintext between a (decrypted) client side and the server, watching it. */
  const toServer = async (conn: Connection, client: Deno.Conn) => {
    const server = await Deno.connect({ hostname: "127.0.0.1", port: options.targetPort });
    const serverPort = (server.localAddr as Deno.NetAddr).port;
    byServerPort.set(serverPort, conn);
    try {
      await relay(client, server, (c) => conn.fromClient(c), () => conn.fromServer());
    } finally {
      byServerPort.delete(serverPort);
    }
  };

  const forward = async (conn: Connection) => {
    try {
      if (!tlsStage) {
        conn.upstream = await Deno.connect({ hostname: "127.0.0.1", port: options.targetPort });
        await toServer(conn, conn.client).catch(() => {});
        return;
      }
      const stage = await Deno.connect({
        hostname: "127.0.0.1",
        port: (tlsStage.addr as Deno.NetAddr).port,
      });
      conn.upstream = stage;
      const stagePort = (stage.localAddr as Deno.NetAddr).port;
      byStagePort.set(stagePort, conn);
      try {
        await relay(conn.client, stage);
      } finally {
        byStagePort.delete(stagePort);
      }
    } catch {
      // The server or the TLS stage is gone: this connection ends, nothing else does.
    } finally {
      conn.close();
      open.delete(conn);
    }
  };

  /** The TLS stage: each decrypted connection belongs to the public one relaying it. */
  const terminate = async (tls: Deno.TlsConn) => {
    try {
      await tls.handshake();
      const conn = byStagePort.get((tls.remoteAddr as Deno.NetAddr).port);
      if (!conn) throw new Error("no public connection");
      await toServer(conn, tls);
    } catch {
      // A failed handshake or a reset: only this connection ends.
      try {
        tls.close();
      } catch {
        // Already closed.
      }
    }
  };

  (async () => {
    try {
      for await (const client of listener) {
        const conn = new Connection(client, client.remoteAddr as Deno.NetAddr);
        if (!makeRoom()) {
          drop(conn, "over_limit");
          continue;
        }
        open.add(conn);
        forward(conn);
      }
    } catch {
      // The listener was closed.
    }
  })();
  if (tlsStage) {
    const stage = tlsStage;
    (async () => {
      try {
        for await (const tls of stage) terminate(tls);
      } catch {
        // The stage was closed.
      }
    })();
  }

  return {
    port: (listener.addr as Deno.NetAddr).port,
    get openConnections() {
      return open.size;
    },
    clientOf: (serverPort) => byServerPort.get(serverPort)?.remote,
    closeLater(serverPort, delayMs = 1_000) {
      const conn = byServerPort.get(serverPort);
      if (!conn) return;
      const timer = setTimeout(() => conn.close(), delayMs);
      Deno.unrefTimer(timer);
    },
    close() {
      clearInterval(sweep);
      for (const l of [listener, tlsStage]) {
        try {
          l?.close();
        } catch {
          // Already closed.
        }
      }
      for (const conn of open) conn.close();
      open.clear();
    },
  };
}
