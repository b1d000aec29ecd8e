/**
 * The preview relay (`/preview/entities/...`) on the real gateway, against a real HTTP
 * server standing in for a converter: behind the same authentication as /v1, media and
 * playlists relayed with their type and status, WHEP offers relayed with the session's
 * location rewritten, and bad requests refused with a reason (no path escapes, no other
 * protocol, an unreachable sender is 502).
 */
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { type Connection, ConnectionSchema, MediaType } from "@callassistant/protocol";
import { createGateway } from "../../src/gateway/app.ts";
import { dashboardRoutes, isDashboardAsset } from "../../src/web/routes.ts";
import { previewRoutes } from "../../src/web/preview.ts";

Deno.test("preview relay: auth, MJPEG, HLS, WHEP, and bad requests", async () => {
  const seen: string[] = [];
  const upstream = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = new URL(req.url).pathname;
    seen.push(`${req.method} ${path}`);
    if (path === "/mjpeg/conv") {
      return new Response("--frame\r\nContent-Type: image/jpeg\r\n\r\n\xff\xd8\xff\xd9", {
        headers: { "content-type": "multipart/x-mixed-replace; boundary=frame" },
      });
    }
    if (path === "/hls/conv2/index.m3u8") {
      return new Response("#EXTM3U\nseg1.ts\n", {
        headers: { "content-type": "application/vnd.apple.mpegurl" },
      });
    }
    if (path === "/hls/conv2/seg1.ts") {
      return new Response("TS", { headers: { "content-type": "video/mp2t" } });
    }
    if (path === "/whep/bridge" && req.method === "POST") {
      assert.equal(req.headers.get("content-type"), "application/sdp");
      assert.equal(await req.text(), "v=0 offer");
      return new Response("v=0 answer", {
        status: 201,
        headers: { "content-type": "application/sdp", location: "/whep/bridge/s1" },
      });
    }
    if (path === "/whep/bridge/s1" && req.method === "DELETE") {
      return new Response(null, { status: 200 });
    }
    return new Response("no", { status: 404 });
  });
  const base = `http://127.0.0.1:${upstream.addr.port}`;
  const conn = (source: string, protocol: string, address: string): Connection =>
    create(ConnectionSchema, {
      id: `c-${source}`,
      flowId: "f",
      sourceEntityId: source,
      targetEntityId: "tv",
      format: { mediaType: MediaType.VIDEO, protocol, codec: "h264" },
      address,
    });
  const connections = [
    conn("conv", "mjpeg", `${base}/mjpeg/conv`),
    conn("conv2", "hls", `${base}/hls/conv2/index.m3u8`),
    conn("bridge", "webrtc", `${base}/whep/bridge`),
    conn("gone", "mjpeg", "http://127.0.0.1:1/mjpeg/gone"),
  ];
  const app = createGateway({
    services: [],
    extraRoutes: (a) => {
      dashboardRoutes(a);
      previewRoutes(a, () => connections);
    },
    auth: { token: "t0k", isPublic: isDashboardAsset },
  });
  const get = (path: string, init: RequestInit = {}) =>
    app.request(path, {
      ...init,
      headers: { authorization: "Bearer t0k", ...(init.headers ?? {}) },
    });
  try {
    // The dashboard's files are public; the relay is not.
    assert.equal((await app.request("/ui/preview.js")).status, 200);
    const refused = await app.request("/preview/entities/conv/mjpeg");
    assert.equal(refused.status, 401);
    await refused.body?.cancel();

    const what = await get("/preview/entities/conv2");
    assert.deepEqual(await what.json(), {
      entityId: "conv2",
      protocol: "hls",
      flowId: "f",
      connectionId: "c-conv2",
      url: "/preview/entities/conv2/hls/index.m3u8",
    });
    const mjpeg = await get("/preview/entities/conv/mjpeg");
    assert.equal(mjpeg.status, 200);
    assert.equal(mjpeg.headers.get("content-type"), "multipart/x-mixed-replace; boundary=frame");
    assert.equal(mjpeg.headers.get("cache-control"), "no-store");
    assert.match(await mjpeg.text(), /^--frame/);
    const playlist = await get("/preview/entities/conv2/hls/index.m3u8");
    assert.equal(await playlist.text(), "#EXTM3U\nseg1.ts\n");
    const seg = await get("/preview/entities/conv2/hls/seg1.ts");
    assert.equal(seg.headers.get("content-type"), "video/mp2t");
    assert.equal(await seg.text(), "TS");

    const post = (body: unknown) =>
      get("/preview/entities/bridge/whep", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const answer = await post({ sdp: "v=0 offer" });
    assert.equal(answer.status, 201);
    assert.deepEqual(await answer.json(), {
      sdp: "v=0 answer",
      location: "/preview/entities/bridge/whep/s1",
    });
    const notSdp = await post({ offer: "v=0" });
    assert.equal(notSdp.status, 400);
    assert.match((await notSdp.json()).message, /the body must be \{"sdp"/);
    const ended = await get("/preview/entities/bridge/whep/s1", { method: "DELETE" });
    assert.equal(ended.status, 200);
    await ended.body?.cancel();

    // Bad requests.
    const cases: [string, number, RegExp][] = [
      ["/preview/entities/nope", 404, /entity "nope" sends no browser-playable media/],
      ["/preview/entities/conv2/hls/..%2F..%2Fetc%2Fpasswd", 400, /not an HLS file name/],
      ["/preview/entities/conv2/hls/x.sh", 400, /not an HLS file name/],
      ["/preview/entities/conv/hls/index.m3u8", 409, /entity "conv" sends mjpeg/],
      ["/preview/entities/gone/mjpeg", 502, /cannot be reached/],
    ];
    for (const [path, status, message] of cases) {
      const res = await get(path);
      assert.equal(res.status, status, path);
      assert.match((await res.json()).message, message, path);
    }
    // Only the addresses of the connections were asked for.
    assert.deepEqual(seen, [
      "GET /mjpeg/conv",
      "GET /hls/conv2/index.m3u8",
      "GET /hls/conv2/seg1.ts",
      "POST /whep/bridge",
      "DELETE /whep/bridge/s1",
    ]);
  } finally {
    await upstream.shutdown();
  }
});
