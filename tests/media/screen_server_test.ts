/**
 * The web-screen module's HTTP server alone: pages, sources, reports and their bad
 * inputs, and a port that survives a restart.
 */
import assert from "node:assert/strict";
import { ScreenTable } from "../../modules/web-screen/screen_table.ts";
import { startScreenServer } from "../../modules/web-screen/screen_server.ts";

function table(): ScreenTable {
  const t = new ScreenTable();
  const now = new Date();
  t.screens.set("tv", {
    id: "tv",
    name: "Living <room>",
    showInfo: false,
    accept: [],
    createdAt: now,
    updatedAt: now,
  });
  return t;
}

Deno.test("screen server: pages, sources and reports; bad inputs are clear errors", async () => {
  const t = table();
  const server = await startScreenServer(t, { hostname: "127.0.0.1", port: 0, fallback: false });
  const base = `http://127.0.0.1:${server.port}`;
  try {
    const page = await fetch(`${base}/screens/tv`);
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /data-screen="tv"/);
    assert.match(html, /Living &#60;room&#62;/, "the name is escaped");

    const unknown = await fetch(`${base}/screens/nope`);
    assert.equal(unknown.status, 404);
    assert.match(await unknown.text(), /No screen "nope"[\s\S]*href="\/screens\/tv"/);

    assert.deepEqual(await (await fetch(`${base}/screens/tv/source`)).json(), {
      id: "tv",
      name: "Living <room>",
      source: null,
      reload: 0,
      accept: [],
    });
    t.connections.set("c1", {
      id: "c1",
      flowId: "f",
      screenId: "tv",
      protocol: "hls",
      url: "http://x/index.m3u8",
      running: true,
      startedAt: 5,
      reload: 0,
    });
    assert.deepEqual((await (await fetch(`${base}/screens/tv/source`)).json()).source, {
      protocol: "hls",
      url: "http://x/index.m3u8",
      flow_id: "f",
      connection_id: "c1",
      started_at: 5,
    });

    const post = (body: string) => fetch(`${base}/screens/tv/report`, { method: "POST", body });
    const report = { state: "playing", fps: 25, x: [1, 2], y: [1, "a"], z: [[1]] };
    assert.equal((await post(JSON.stringify(report))).status, 204);
    assert.deepEqual(
      t.freshReport("tv"),
      { state: "playing", fps: 25, x: [1, 2] },
      "lists of numbers are kept, other lists dropped",
    );
    const bad = await post("{not json");
    assert.equal(bad.status, 400);
    assert.match((await bad.json()).error, /a report is a JSON object/);
    const big = await post(JSON.stringify({ s: "x".repeat(70_000) }));
    assert.equal(big.status, 413);
    await big.body?.cancel();
    const missing = await fetch(`${base}/screens/nope/report`, { method: "POST", body: "{}" });
    assert.equal(missing.status, 404);
    assert.match((await missing.json()).error, /no screen "nope"/);
    const wrong = await fetch(`${base}/screens/tv/source`, { method: "DELETE" });
    assert.equal(wrong.status, 405);
    await wrong.body?.cancel();
    const asset = await fetch(`${base}/assets/screen.js`);
    assert.equal(asset.headers.get("content-type"), "text/javascript; charset=utf-8");
    await asset.body?.cancel();
    const noAsset = await fetch(`${base}/assets/../main.ts`);
    assert.equal(noAsset.status, 404);
    await noAsset.body?.cancel();
  } finally {
    await server.shutdown();
  }
});

Deno.test("screen server: a free port is remembered and used again after a restart", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ca-test-screen-" });
  const remember = `${dir}/screen-port`;
  try {
    const first = await startScreenServer(table(), {
      hostname: "127.0.0.1",
      port: 0,
      fallback: false,
      remember,
    });
    const port = first.port;
    await first.shutdown();
    assert.equal((await Deno.readTextFile(remember)).trim(), String(port));
    const second = await startScreenServer(table(), {
      hostname: "127.0.0.1",
      port: 0,
      fallback: false,
      remember,
    });
    assert.equal(second.port, port, "same port after a restart");
    // A default port that is taken falls back to the remembered one.
    const taken = await startScreenServer(table(), {
      hostname: "127.0.0.1",
      port,
      fallback: true,
      remember,
    }).catch((err) => err);
    assert.ok(!(taken instanceof Error));
    assert.notEqual(taken.port, port);
    await taken.shutdown();
    // A port the operator chose that is taken is an error.
    await assert.rejects(
      startScreenServer(table(), { hostname: "127.0.0.1", port, fallback: false }),
      Deno.errors.AddrInUse,
    );
    await second.shutdown();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
