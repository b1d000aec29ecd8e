/**
 * Slow clients against the real orchestrator's HTTP listener, with its default limits:
 * slowloris header senders are closed after the 10 s header timeout, half-sent requests
 * get 408 after the 30 s body deadline and are closed, while a normal client and a quiet
 * event stream carry on undisturbed.
 */
import assert from "node:assert/strict";
import { startOrchestrator } from "../helpers/test_orchestrator.ts";

const SLOW = 20;
const HALF = 20;

/** Reads `conn` to its end (or `ms`); the text, and whether the server closed it. */
async function readToEnd(conn: Deno.Conn, ms: number): Promise<{ text: string; closed: boolean }> {
  const buffer = new Uint8Array(16 * 1024);
  let text = "";
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const n = await Promise.race([
      conn.read(buffer).catch(() => null),
      new Promise<"timeout">((r) => setTimeout(() => r("timeout"), deadline - Date.now())),
    ]);
    if (n === "timeout") break;
    if (n === null) return { text, closed: true };
    text += new TextDecoder().decode(buffer.subarray(0, n));
  }
  return { text, closed: false };
}

Deno.test("slow clients: slowloris and half-sent requests are closed, others unaffected", async () => {
  const modules = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  const orch = await startOrchestrator({ modules });
  const [hostname, port] = orch.url.replace("http://", "").split(":");
  const connect = () => Deno.connect({ hostname, port: Number(port) });
  const conns: Deno.Conn[] = [];
  let stop = false;
  try {
    const started = Date.now();
    // Slowloris: a header byte every 200 ms, never the blank line.
    const slow = await Promise.all(Array.from({ length: SLOW }, connect));
    conns.push(...slow);
    for (const c of slow) {
      (async () => {
        for (
          const ch of `GET /v1/modules HTTP/1.1\r\nHost: ${hostname}\r\nX-Slow: ${"s".repeat(500)}`
        ) {
          if (stop) return;
          if (await c.write(new TextEncoder().encode(ch)).catch(() => 0) === 0) return;
          await new Promise((r) => setTimeout(r, 200));
        }
      })();
    }
    // Half-sent: the headers promise 1,000 bytes, 10 arrive.
    const half = await Promise.all(Array.from({ length: HALF }, connect));
    conns.push(...half);
    for (const c of half) {
      await c.write(new TextEncoder().encode(
        `POST /v1/entities HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\n` +
          `Content-Length: 1000\r\n\r\n{"name": "`,
      ));
    }
    // A quiet event stream (keep-alive comments every 15 s) and a normal client.
    const events = await fetch(`${orch.url}/v1/events`, {
      headers: { accept: "text/event-stream" },
    });
    assert.equal(events.status, 200);
    const reader = events.body!.getReader();
    let streamBytes = 0;
    const streaming = (async () => {
      try {
        while (true) {
          const { done, value } = await reader.read();
          // Cancelled by the test at the end, or ended early by the server.
          if (done) return stop ? "open" : "ended";
          streamBytes += value.length;
        }
      } catch (err) {
        return `failed after ${Date.now() - started} ms: ${err}`;
      }
    })();
    let normalOk = 0;
    const normal = (async () => {
      while (!stop) {
        const res = await fetch(`${orch.url}/v1/modules`);
        assert.equal(res.status, 200);
        await res.body?.cancel();
        normalOk++;
        await new Promise((r) => setTimeout(r, 500));
      }
    })();

    const slowEnds = await Promise.all(slow.map((c) => readToEnd(c, 15_000)));
    assert.ok(slowEnds.every((e) => e.closed), "every slowloris connection is closed");
    const slowAt = Date.now() - started;
    assert.ok(slowAt < 14_000, `slowloris closed after ${slowAt} ms`);
    const halfEnds = await Promise.all(half.map((c) => readToEnd(c, 40_000)));
    for (const e of halfEnds) {
      assert.ok(e.closed, `every half-sent request is closed; got ${JSON.stringify(e.text)}`);
      assert.match(e.text, /^HTTP\/1\.1 408/);
      assert.match(e.text, /the request body did not arrive within 30 s/);
    }
    stop = true;
    await normal;
    assert.ok(normalOk >= 40, `the normal client was served all along (${normalOk} requests)`);
    await reader.cancel();
    assert.equal(await streaming, "open");
    assert.ok(streamBytes > 0, "the quiet stream got its keep-alives");
  } finally {
    stop = true;
    for (const c of conns) {
      try {
        c.close();
      } catch {
        // Closed by the server.
      }
    }
    await orch.stop();
    await Deno.remove(modules, { recursive: true });
  }
});
