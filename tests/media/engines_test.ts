/**
 * The media engines alone, before any orchestrator: the GStreamer test pattern served
 * over RTSP, ffmpeg remuxing it to HLS and transcoding it to MJPEG, aiortc forwarding its
 * H.264 over WebRTC (WHEP), and the screen page playing each in headless Chromium. Real
 * processes, real media, frames counted by the browser.
 */
import assert from "node:assert/strict";
import { ScreenTable } from "../../modules/web-screen/screen_table.ts";
import { startScreenServer } from "../../modules/web-screen/screen_server.ts";
import { haveChromium } from "../web/browser.ts";
import { type Engine, launchMediaBrowser, startEngine, waitForStats } from "./media_helpers.ts";

Deno.test({
  name: "engines: test pattern -> HLS, MJPEG and WebRTC, each played by a screen page",
  ignore: !haveChromium(),
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const engines: Engine[] = [];
    const table = new ScreenTable();
    const server = await startScreenServer(table, {
      hostname: "127.0.0.1",
      port: 0,
      fallback: false,
    });
    const browser = await launchMediaBrowser();
    try {
      const camera = await startEngine("camera", "test_pattern.py", [
        "--port",
        "0",
        "--size",
        "640x360",
        "--fps",
        "25",
        "--bitrate",
        "800",
      ]);
      engines.push(camera);
      assert(camera.url.startsWith("rtsp://127.0.0.1:"), camera.url);
      const [hls, mjpeg, whep] = await Promise.all([
        startEngine("ffmpeg-converter", "conversion.py", ["--input", camera.url, "--kind", "hls"]),
        startEngine("ffmpeg-converter", "conversion.py", [
          "--input",
          camera.url,
          "--kind",
          "mjpeg",
          "--id",
          "m",
        ]),
        startEngine("webrtc-bridge", "whep_server.py", ["--input", camera.url]),
      ]);
      engines.push(hls, mjpeg, whep);
      const now = Date.now();
      for (
        const [id, protocol, url] of [
          ["s-hls", "hls", hls.url],
          ["s-mjpeg", "mjpeg", mjpeg.url],
          ["s-webrtc", "webrtc", whep.url],
        ] as const
      ) {
        table.screens.set(id, {
          id,
          name: id,
          showInfo: true,
          createdAt: new Date(),
          updatedAt: new Date(),
        });
        table.connections.set(`c-${id}`, {
          id: `c-${id}`,
          flowId: `f-${id}`,
          screenId: id,
          protocol,
          url,
          running: true,
          startedAt: now,
        });
      }
      const base = `http://127.0.0.1:${server.port}`;
      const pages = await Promise.all(["s-hls", "s-mjpeg", "s-webrtc"].map(async (id) => {
        const page = await browser.newPage();
        await page.goto(`${base}/screens/${id}`);
        return page;
      }));
      const results = await Promise.all(
        pages.map((page, i) =>
          waitForStats(
            page,
            (s) => s.frames_decoded >= 50 && s.frames_new >= 50,
            30_000,
            [
              "HLS",
              "MJPEG",
              "WebRTC",
            ][i] + " >= 50 frames",
          )
        ),
      );
      await t.step("HLS: H.264 decoded, pixel clock read", () => {
        const s = results[0];
        assert.deepEqual(s.protocol, "hls");
        assert.deepEqual([s.width, s.height], [640, 360]);
        assert(s.pixel_clock, "the pixel clock was read");
        assert(s.latency_p50_ms > 0 && s.latency_p50_ms < 10_000, `latency ${s.latency_p50_ms}`);
      });
      await t.step("MJPEG: JPEGs decoded", () => {
        const s = results[1];
        assert.deepEqual(s.codec, "mjpeg");
        assert(s.pixel_clock);
        assert(s.latency_p50_ms > 0 && s.latency_p50_ms < 5000, `latency ${s.latency_p50_ms}`);
      });
      await t.step("WebRTC: H.264 negotiated and decoded", () => {
        const s = results[2];
        assert.deepEqual(s.codec, "h264");
        assert(s.pixel_clock);
        assert(s.latency_p50_ms > 0 && s.latency_p50_ms < 2000, `latency ${s.latency_p50_ms}`);
      });
      console.log(
        results.map((s) =>
          `${s.protocol}: first frame ${s.first_frame_ms} ms, latency p50 ${s.latency_p50_ms} ms, ` +
          `decoded ${s.frames_decoded}`
        ).join("\n"),
      );
    } finally {
      await browser.close();
      await server.shutdown();
      for (const e of engines.reverse()) await e.stop();
    }
  },
});
