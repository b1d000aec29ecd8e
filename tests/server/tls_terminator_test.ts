/**
 * The TLS terminator in front of a plaintext TCP echo server: bytes go both ways after the
 * handshake; a plaintext client is dropped; neither it nor a client that connects and
 * stays silent stops the terminator serving the next one.
 */
import assert from "node:assert/strict";
import { startTlsTerminator } from "@callassistant/rpc";
import { makeTestPki } from "../helpers/test_pki.ts";

/** A plaintext echo server on 127.0.0.1. */
function startEcho(): { port: number; close(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  (async () => {
    for await (const conn of listener) {
      conn.readable.pipeTo(conn.writable).catch(() => {});
    }
  })().catch(() => {});
  return { port: (listener.addr as Deno.NetAddr).port, close: () => listener.close() };
}

async function echoOverTls(port: number, ca: string, text: string): Promise<string> {
  const conn = await Deno.connectTls({ hostname: "localhost", port, caCerts: [ca] });
  try {
    await conn.write(new TextEncoder().encode(text));
    const buffer = new Uint8Array(text.length);
    let read = 0;
    while (read < text.length) {
      const n = await conn.read(buffer.subarray(read));
      if (n === null) throw new Error("closed early");
      read += n;
    }
    return new TextDecoder().decode(buffer);
  } finally {
    conn.close();
  }
}

Deno.test("tls terminator: forwards both ways; plaintext and silent clients harm no one else", async () => {
  const pki = await makeTestPki();
  const echo = startEcho();
  const terminator = startTlsTerminator({
    host: "127.0.0.1",
    port: 0,
    tls: {
      cert: await Deno.readTextFile(pki.serverCert),
      key: await Deno.readTextFile(pki.serverKey),
    },
    targetPort: echo.port,
  });
  const ca = await Deno.readTextFile(pki.ca);
  try {
    assert.equal(await echoOverTls(terminator.port, ca, "hello over tls"), "hello over tls");

    // Silent: connects and never sends a ClientHello. It blocks no one else, and is closed
    // after the header timeout (tcp_forwarder_test.ts).
    const silent = await Deno.connect({ hostname: "127.0.0.1", port: terminator.port });

    // Plaintext: gets no answer it can use, and the connection ends.
    const plain = await Deno.connect({ hostname: "127.0.0.1", port: terminator.port });
    await plain.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    const reply = new Uint8Array(1024);
    let total = 0;
    while (true) {
      const r = await plain.read(reply.subarray(total)).catch(() => null);
      if (r === null) break;
      total += r;
    }
    assert.doesNotMatch(new TextDecoder().decode(reply.subarray(0, total)), /HTTP\/1\.1/);
    plain.close();

    assert.equal(await echoOverTls(terminator.port, ca, "still serving"), "still serving");
    silent.close();
  } finally {
    terminator.close();
    echo.close();
    await Deno.remove(pki.dir, { recursive: true });
  }
});
