/**
 * The guarded forwarder in front of a real Deno.serve, with short limits: slow and silent
 * clients, half-sent requests and TLS clients that never finish the handshake are closed;
 * the connection limit evicts the quietest or refuses; normal requests, keep-alive,
 * quiet streams and quiet HTTP/2 connections are left alone.
 */
import assert from "node:assert/strict";
import { startForwarder, startTlsTerminator } from "@callassistant/rpc";
import { makeTestPki } from "../helpers/test_pki.ts";

const LIMITS = { headersTimeoutMs: 400, idleTimeoutMs: 600, evictQuietMs: 300, maxConnections: 4 };

/** Resolves with "closed" when the server closes `conn`, or "open" after `ms`. */
async function closedWithin(conn: Deno.Conn, ms: number): Promise<"closed" | "open"> {
  const buffer = new Uint8Array(64 * 1024);
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const n = await Promise.race([
      conn.read(buffer).catch(() => null),
      new Promise<"timeout">((r) => setTimeout(() => r("timeout"), deadline - Date.now())),
    ]);
    if (n === null) return "closed";
    if (n === "timeout") return "open";
  }
  return "open";
}

function write(conn: Deno.Conn, text: string): Promise<number> {
  return conn.write(new TextEncoder().encode(text));
}

/** A Deno.serve app: `/stream` sends its headers and then nothing; others echo the body. */
function startApp(): { port: number; close(): Promise<void> } {
  const abort = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: abort.signal, onListen: () => {} },
    async (req) => {
      if (new URL(req.url).pathname === "/stream") {
        return new Response(new ReadableStream({ start: (c) => c.enqueue(new Uint8Array([10])) }));
      }
      return new Response(`got ${(await req.text().catch(() => "")).length}`);
    },
  );
  return {
    port: (server.addr as Deno.NetAddr).port,
    close: async () => {
      abort.abort();
      await server.finished;
    },
  };
}

Deno.test("forwarder: slow, silent and half-sent clients are closed; others are not", async () => {
  const app = startApp();
  const closedBy: string[] = [];
  const front = startForwarder({
    hostname: "127.0.0.1",
    port: 0,
    targetPort: app.port,
    limits: { ...LIMITS, maxConnections: 64 },
    onClosed: (reason) => closedBy.push(reason),
  });
  const connect = () => Deno.connect({ hostname: "127.0.0.1", port: front.port });
  const conns: Deno.Conn[] = [];
  try {
    // Slowloris: a header byte every 50 ms, never the blank line.
    const slow = await connect();
    conns.push(slow);
    const header = "GET / HTTP/1.1\r\nHost: x\r\nX-Long: " + "a".repeat(1000);
    let stop = false;
    (async () => {
      for (const ch of header) {
        if (stop) return;
        await write(slow, ch).catch(() => (stop = true));
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const silent = await connect();
    conns.push(silent);
    // Half-sent: headers promise 100 bytes, 3 arrive.
    const half = await connect();
    conns.push(half);
    await write(half, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc");
    // A quiet stream: its server spoke last, so it stays however long it is quiet.
    const stream = await connect();
    conns.push(stream);
    await write(stream, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");

    const started = Date.now();
    const fetched: number[] = [];
    // A normal client with keep-alive, all along.
    const normal = (async () => {
      while (Date.now() - started < 1_500) {
        const res = await fetch(`http://127.0.0.1:${front.port}/`, { method: "POST", body: "hi" });
        assert.equal(await res.text(), "got 2");
        fetched.push(Date.now());
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    assert.equal(await closedWithin(slow, 2_000), "closed");
    stop = true;
    assert.ok(Date.now() - started < 1_500, "slowloris closed near the header timeout");
    assert.equal(await closedWithin(silent, 1_000), "closed");
    assert.equal(await closedWithin(half, 2_000), "closed");
    assert.equal(await closedWithin(stream, 1_500), "open", "a quiet stream is left alone");
    await normal;
    assert.ok(fetched.length >= 5, `normal requests went on: ${fetched.length}`);
    assert.deepEqual(
      [...new Set(closedBy)].sort(),
      ["headers_timeout", "idle_timeout"],
    );
  } finally {
    for (const c of conns) {
      try {
        c.close();
      } catch {
        // Closed by the forwarder.
      }
    }
    front.close();
    await app.close();
  }
});

Deno.test("forwarder: at the limit the quietest goes, or the new one is refused", async () => {
  const app = startApp();
  const closedBy: string[] = [];
  const front = startForwarder({
    hostname: "127.0.0.1",
    port: 0,
    targetPort: app.port,
    limits: { ...LIMITS, headersTimeoutMs: 60_000, idleTimeoutMs: 60_000, evictQuietMs: 300 },
    onClosed: (reason) => closedBy.push(reason),
  });
  const connect = () => Deno.connect({ hostname: "127.0.0.1", port: front.port });
  const conns: Deno.Conn[] = [];
  try {
    // Four busy ones: each sends a byte every 50 ms.
    let busy = true;
    for (let i = 0; i < 4; i++) {
      const c = await connect();
      conns.push(c);
      (async () => {
        while (busy) {
          await write(c, "a").catch(() => {});
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
    }
    await new Promise((r) => setTimeout(r, 500));
    const refused = await connect();
    conns.push(refused);
    assert.equal(await closedWithin(refused, 1_000), "closed");
    assert.deepEqual(closedBy, ["over_limit"]);
    // One goes quiet: the next connection takes its place.
    busy = false;
    await new Promise((r) => setTimeout(r, 500));
    const admitted = await connect();
    conns.push(admitted);
    await write(admitted, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    const answer = new Uint8Array(1024);
    const n = await admitted.read(answer);
    assert.match(new TextDecoder().decode(answer.subarray(0, n ?? 0)), /^HTTP\/1\.1 200/);
    assert.equal(closedBy.filter((r) => r === "evicted").length, 1);
    assert.equal(front.openConnections <= 4, true);
  } finally {
    for (const c of conns) {
      try {
        c.close();
      } catch {
        // Closed by the forwarder.
      }
    }
    front.close();
    await app.close();
  }
});

Deno.test("forwarder: a quiet HTTP/2 connection is not mistaken for a half-sent request", async () => {
  const app = startApp();
  const front = startForwarder({
    hostname: "127.0.0.1",
    port: 0,
    targetPort: app.port,
    limits: LIMITS,
  });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: front.port });
  try {
    const settings = [0, 0, 0, 4, 0, 0, 0, 0, 0];
    const preface = new TextEncoder().encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    await conn.write(new Uint8Array([...preface, ...settings]));
    // The server's SETTINGS, then the client acknowledges: the client spoke last.
    const buffer = new Uint8Array(1024);
    assert.ok(((await conn.read(buffer)) ?? 0) > 0);
    await conn.write(new Uint8Array([0, 0, 0, 4, 1, 0, 0, 0, 0]));
    assert.equal(await closedWithin(conn, LIMITS.idleTimeoutMs * 2), "open");
  } finally {
    conn.close();
    front.close();
    await app.close();
  }
});

Deno.test("tls terminator: a client that never finishes its handshake is closed", async () => {
  const pki = await makeTestPki();
  const app = startApp();
  const terminator = startTlsTerminator({
    host: "127.0.0.1",
    port: 0,
    tls: {
      cert: await Deno.readTextFile(pki.serverCert),
      key: await Deno.readTextFile(pki.serverKey),
    },
    targetPort: app.port,
    limits: LIMITS,
  });
  try {
    const silent = await Deno.connect({ hostname: "127.0.0.1", port: terminator.port });
    // Half a ClientHello, then nothing.
    await silent.write(new Uint8Array([22, 3, 1, 0, 200, 1, 0]));
    assert.equal(await closedWithin(silent, 2_000), "closed");
    silent.close();
  } finally {
    terminator.close();
    await app.close();
    await Deno.remove(pki.dir, { recursive: true });
  }
});
