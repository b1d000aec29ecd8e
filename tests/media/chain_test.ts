/**
 * The real chain through the orchestrator, one shared run: the example modules of
 * `modules/` (camera, ffmpeg-converter, webrtc-bridge, web-screen) as real processes, a
 * GStreamer test pattern played by screen pages in headless Chromium over WebRTC, HLS
 * and MJPEG, frames counted by the browser. Then the faults: kill -9 of the converter
 * module and SIGSTOP of its ffmpeg while the screen plays (frames stop, then come back
 * without touching the page), RTSP cameras that are closed, not RTSP, behind a wrong
 * password or in a codec no converter takes, an unknown screen page, WHEP offers
 * without H.264.
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { ROOT, startOrchestrator, waitFor } from "../helpers/test_orchestrator.ts";
import { freePort } from "../helpers/free_ports.ts";
import { call, ok, waitReady } from "../flows/flow_helpers.ts";
import { haveChromium, type TestBrowser } from "../web/browser.ts";
import {
  events,
  launchMediaBrowser,
  MEDIA_ENV,
  type ScreenStats,
  screenStats,
  waitForStats,
} from "./media_helpers.ts";

const MEDIA_MODULES = ["camera", "ffmpeg-converter", "webrtc-bridge", "web-screen"];

/** The URL in an entity's status message ("open http://..."). */
function urlIn(message: string, scheme = "http"): string {
  const match = new RegExp(`${scheme}://[^\\s;)]+`).exec(message);
  if (!match) throw new Error(`no ${scheme} URL in "${message}"`);
  return match[0];
}

/** Waits until the entity is in `state`; the error names its last state and message. */
// deno-lint-ignore no-explicit-any
async function waitEntity(base: string, id: string, state: string, ms: number): Promise<any> {
  let last = "";
  try {
    return await waitFor(
      async () => {
        const { entity } = await ok(base, "GET", `/v1/entities/${id}`);
        last = `${entity.state}: ${entity.status?.message}`;
        return entity.state === state && entity;
      },
      ms,
      `${id} ${state}`,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message} (last: ${last})`);
  }
}

/** The pids of a process's children (from /proc). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
    const text = Deno.readTextFileSync(`/proc/${pid}/task/${task.name}/children`).trim();
    if (text) out.push(...text.split(/\s+/).map(Number));
  }
  return out;
}

function commandOf(pid: number): string {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0").join(" ");
  } catch {
    return "";
  }
}

/**
 * Follows `frames_new` of a page every 100 ms until it stopped for `quietMs` and then
 * rose by `resume` frames: the media gap (last new frame before, first one after).
 */
async function measureGap(page: Page, resume: number, quietMs: number, timeoutMs: number) {
  const start = Date.now();
  let last = (await screenStats(page)).frames_new;
  let lastAt = Date.now();
  let stoppedAt = 0;
  let base = 0;
  let resumedAt = 0;
  while (Date.now() - start < timeoutMs) {
    await new Promise((r) => setTimeout(r, 100));
    const s = await screenStats(page);
    const now = Date.now();
    if (!stoppedAt) {
      if (s.frames_new > last) {
        last = s.frames_new;
        lastAt = now;
      } else if (now - lastAt >= quietMs) {
        stoppedAt = lastAt;
        base = s.frames_new;
      }
    } else if (!resumedAt && s.frames_new > base) {
      resumedAt = now;
    } else if (resumedAt && s.frames_new >= base + resume) {
      return { stoppedAt, resumedAt, gapMs: resumedAt - stoppedAt, stats: s };
    }
  }
  throw new Error(
    `frames did not ${stoppedAt ? "come back" : "stop"} within ${timeoutMs} ms: ` +
      JSON.stringify(await screenStats(page)),
  );
}

Deno.test({
  name: "media chain: test pattern to screens over WebRTC, HLS and MJPEG, and its faults",
  ignore: !haveChromium(),
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const orch = await startOrchestrator({
      modules: `${ROOT}modules`,
      env: MEDIA_ENV,
    });
    const base = orch.url;
    let browser: TestBrowser | undefined;
    const figures: string[] = [];
    try {
      const modules = await waitReady(base, MEDIA_MODULES, 60_000);
      const entity = (body: unknown) => ok(base, "POST", "/v1/entities", body);
      await entity({
        id: "cam",
        entityType: "test_pattern",
        name: "Camera",
        configuration: { resolution: "640x360", fps: 25, bitrate_kbps: 800 },
      });
      for (const id of ["tv-webrtc", "tv-hls", "tv-mjpeg"]) {
        await entity({
          id,
          entityType: "web_screen",
          name: id,
          configuration: { show_info: true },
        });
      }
      const camUrl = urlIn(
        (await ok(base, "GET", "/v1/entities/cam")).entity.status.message,
        "rtsp",
      );
      const pageOf = async (id: string) =>
        urlIn((await ok(base, "GET", `/v1/entities/${id}`)).entity.status.message);
      browser = await launchMediaBrowser();
      const pages: Record<string, Page> = {};

      /** Creates a flow to a screen over `protocol`, opens the page, waits for 50 frames. */
      const play = async (source: string, screen: string, protocol: string) => {
        const created = Date.now();
        const { flow } = await ok(base, "POST", "/v1/flows", {
          id: `${source}-to-${screen}`,
          sourceEntityId: source,
          targetEntityId: screen,
          targetProtocol: protocol,
        });
        assert.equal(flow.state, "FLOW_STATE_ACTIVE", flow.message);
        const active = Date.now();
        const page = pages[screen] ?? await browser!.newPage();
        pages[screen] = page;
        if (page.url() === "about:blank") await page.goto(await pageOf(screen));
        // The page counts since it loaded: 50 more frames, of this flow.
        const before = await screenStats(page);
        const s = await waitForStats(
          page,
          (s) =>
            s.flow_id === flow.id && s.protocol === protocol &&
            s.frames_decoded >= before.frames_decoded + 50 &&
            s.frames_new >= before.frames_new + 50,
          15_000,
          `${protocol}: 50 frames within 15 s of ACTIVE`,
        );
        figures.push(
          `${protocol}: flow ACTIVE in ${active - created} ms, 50 frames ${
            Date.now() - active
          } ms after, first frame ${s.first_frame_ms} ms after the player started, ` +
            `latency p50 ${Math.round(s.latency_p50_ms)} ms`,
        );
        return { flow, stats: s };
      };

      await t.step("WebRTC through the bridge: H.264 negotiated, frames decoded", async () => {
        const { stats } = await play("cam", "tv-webrtc", "webrtc");
        assert.equal(stats.codec, "h264");
        assert.deepEqual([stats.width, stats.height], [640, 360]);
        assert.ok(
          stats.latency_p50_ms > 0 && stats.latency_p50_ms < 2000,
          `${stats.latency_p50_ms}`,
        );
        // The bridge and the screen report real figures in the flow's status.
        const flow = await waitFor(
          async () => {
            const { flow } = await ok(base, "GET", "/v1/flows/cam-to-tv-webrtc");
            const by = Object.fromEntries(
              flow.statuses.map((s: { module: string }) => [s.module, s]),
            );
            const ready = by["webrtc-bridge"]?.metrics?.frames_sent > 0 &&
              by["web-screen"]?.metrics?.frames_decoded > 0;
            // deno-lint-ignore no-explicit-any
            return ready ? by as Record<string, any> : undefined;
          },
          10_000,
          "bridge and screen figures",
        );
        assert.ok(flow["webrtc-bridge"].metrics.bitrate_kbps > 0);
        assert.equal(flow["web-screen"].metrics.playing, 1);
      });

      await t.step("HLS through ffmpeg (remux): 50 frames within 15 s of ACTIVE", async () => {
        const { stats } = await play("cam", "tv-hls", "hls");
        assert.equal(stats.pixel_clock, true);
        const flow = await waitFor(
          async () => {
            const { flow } = await ok(base, "GET", "/v1/flows/cam-to-tv-hls");
            const conv = flow.statuses.find((s: { module: string }) =>
              s.module === "ffmpeg-converter"
            );
            return conv?.metrics?.fps > 0 && conv.metrics.bitrate_kbps > 0 && conv;
          },
          10_000,
          "converter fps and bitrate",
        );
        assert.equal(flow.state, "FLOW_STATE_ACTIVE", flow.message);
      });

      await t.step("MJPEG through ffmpeg (transcode): JPEG frames decoded", async () => {
        const { stats } = await play("cam", "tv-mjpeg", "mjpeg");
        assert.equal(stats.codec, "mjpeg");
      });

      await t.step("the dashboard shows live figures and links the screen pages", async () => {
        const dash = await browser!.newPage();
        try {
          await dash.goto(`${base}/#/flows`);
          const figures = dash.locator('tr[data-key="cam-to-tv-webrtc"] .figures');
          await waitFor(
            async () => {
              const text = (await figures.textContent()) ?? "";
              return /webrtc-bridge: [\d.]+ fps, \d+ kbit\/s/.test(text) &&
                /web-screen: [\d.]+ fps, .*decoded \d+, latency \d+ ms/.test(text);
            },
            15_000,
            "the flow's figures on the dashboard",
          );
          await dash.goto(`${base}/#/entities`);
          const link = dash.locator('tr[data-key="tv-hls"] .col-status a');
          await waitFor(async () => (await link.count()) > 0, 10_000, "a link to the page");
          assert.equal(await link.first().getAttribute("href"), await pageOf("tv-hls"));
        } finally {
          await dash.close();
        }
      });

      await t.step(
        "kill -9 of the converter module: frames stop, then come back by themselves",
        async () => {
          const pid = (await ok(base, "GET", "/v1/modules/ffmpeg-converter")).module.pid;
          const page = pages["tv-hls"];
          const gap = measureGap(page, 25, 1500, 45_000);
          Deno.kill(pid, "SIGKILL");
          const killedAt = Date.now();
          const { gapMs, resumedAt, stats } = await gap;
          figures.push(
            `kill -9 converter: HLS media gap ${gapMs} ms (picture back ${
              resumedAt - killedAt
            } ms ` +
              `after the kill), reconnects ${stats.reconnects}`,
          );
          const module = (await ok(base, "GET", "/v1/modules/ffmpeg-converter")).module;
          assert.notEqual(module.pid, pid, "the module was restarted");
          // MJPEG, from the same module, is back too.
          await waitForStats(
            pages["tv-mjpeg"],
            (s) => s.state === "playing" && s.last_frame_age_ms < 1000,
            20_000,
            "MJPEG back after the restart",
          );
        },
      );

      await t.step("SIGSTOP of ffmpeg: the converter sees the stall and restarts it", async () => {
        const module = (await ok(base, "GET", "/v1/modules/ffmpeg-converter")).module;
        const ffmpeg = childrenOf(module.pid).find((p) => /ffmpeg .*-f hls/.test(commandOf(p)));
        assert.ok(ffmpeg, "the HLS ffmpeg runs");
        const page = pages["tv-hls"];
        const gap = measureGap(page, 25, 1500, 45_000);
        Deno.kill(ffmpeg, "SIGSTOP");
        const { gapMs } = await gap;
        figures.push(`SIGSTOP ffmpeg: HLS media gap ${gapMs} ms (stall timeout 3 s)`);
        assert.ok(!childrenOf(module.pid).includes(ffmpeg), "the stopped ffmpeg was killed");
        const stalled = await waitFor(
          async () =>
            (await events(base, "converter.")).find((e) => e.type === "converter.stalled"),
          5000,
          "a converter.stalled event",
        );
        assert.match(String(stalled.message), /no new frame for 3 s/);
      });

      await t.step("kill -9 of ffmpeg alone: the converter restarts it at once", async () => {
        const module = (await ok(base, "GET", "/v1/modules/ffmpeg-converter")).module;
        const ffmpeg = childrenOf(module.pid).find((p) => /ffmpeg .*-f hls/.test(commandOf(p)));
        assert.ok(ffmpeg, "the HLS ffmpeg runs");
        const gap = measureGap(pages["tv-hls"], 25, 1000, 45_000);
        Deno.kill(ffmpeg, "SIGKILL");
        const { gapMs } = await gap;
        figures.push(`kill -9 ffmpeg: HLS media gap ${gapMs} ms`);
        const restarted = await waitFor(
          async () =>
            (await events(base, "converter.")).find((e) =>
              e.type === "converter.restarting" && /killed by signal 9/.test(String(e.message))
            ),
          5000,
          "a converter.restarting event naming signal 9",
        );
        assert.match(
          String(restarted.message),
          /ffmpeg killed by signal 9.*; restarting in [\d.]+ s/,
        );
      });

      await t.step(
        "an rtsp_camera on the test pattern's URL plays like a real camera",
        async () => {
          await entity({ id: "ipcam", entityType: "rtsp_camera", configuration: { url: camUrl } });
          const cam = await waitEntity(base, "ipcam", "ENTITY_STATE_READY", 30_000);
          assert.match(cam.status.message, /sends video h264 640x360, audio aac; relayed on rtsp:/);
          // Two cores: the HLS and MJPEG flows are done with, their CPU goes back.
          for (const id of ["cam-to-tv-webrtc", "cam-to-tv-hls", "cam-to-tv-mjpeg"]) {
            await ok(base, "DELETE", `/v1/flows/${id}`);
          }
          await pages["tv-hls"].close();
          await pages["tv-mjpeg"].close();
          const { stats } = await play("ipcam", "tv-webrtc", "webrtc");
          assert.equal(stats.codec, "h264");
        },
      );

      await t.step("rtsp_camera: closed port, not RTSP, wrong password, bad URL", async () => {
        const failedWith = async (id: string, url: string, extra: Record<string, string> = {}) => {
          await entity({ id, entityType: "rtsp_camera", configuration: { url, ...extra } });
          return await waitEntity(base, id, "ENTITY_STATE_FAILED", 30_000);
        };
        const closed = await failedWith("closed", `rtsp://127.0.0.1:${freePort()}/x`);
        assert.match(
          closed.status.message,
          /refused: connection to 127\.0\.0\.1:\d+ refused .*probing again in \d+ s/,
        );
        const http = new URL(base);
        const notRtsp = await failedWith("not-rtsp", `rtsp://127.0.0.1:${http.port}/x`);
        assert.match(notRtsp.status.message, /not_rtsp: 127\.0\.0\.1:\d+ is not an RTSP server/);
        await entity({
          id: "locked",
          entityType: "test_pattern",
          configuration: {
            resolution: "640x360",
            fps: 5,
            bitrate_kbps: 200,
            audio: false,
            user: "admin",
            password: "s3cret",
          },
        });
        const lockedUrl = urlIn(
          (await ok(base, "GET", "/v1/entities/locked")).entity.status.message,
          "rtsp",
        );
        const wrong = await failedWith("wrong-password", lockedUrl, {
          user: "admin",
          password: "nope",
        });
        assert.match(wrong.status.message, /unauthorized: .*refused the user name or password/);
        assert.equal(wrong.configuration.password, "********", "the password is never shown");
        assert.doesNotMatch(JSON.stringify(wrong), /nope/);
        // The right password, sent once; "********" back keeps it.
        await ok(base, "PATCH", "/v1/entities/wrong-password", {
          configuration: { url: lockedUrl, user: "admin", password: "s3cret" },
        });
        await waitEntity(base, "wrong-password", "ENTITY_STATE_READY", 30_000);
        const bad = await call(base, "POST", "/v1/entities", {
          entityType: "rtsp_camera",
          configuration: { url: "http://127.0.0.1/x" },
        });
        assert.equal(bad.status, 400);
        assert.match(bad.body.message, /configuration\.url: expected rtsp:\/\/host\[:port\]\/path/);
        // The module is fine after all that.
        assert.equal((await ok(base, "GET", "/v1/modules/camera")).module.pid, modules.camera.pid);
      });

      await t.step(
        "a codec no converter takes: FAILED_PRECONDITION naming the formats",
        async () => {
          await entity({
            id: "oldcam",
            entityType: "test_pattern",
            configuration: {
              resolution: "640x360",
              fps: 5,
              bitrate_kbps: 200,
              audio: false,
              video_codec: "mjpeg",
            },
          });
          const oldUrl = urlIn(
            (await ok(base, "GET", "/v1/entities/oldcam")).entity.status.message,
            "rtsp",
          );
          await entity({
            id: "old-ipcam",
            entityType: "rtsp_camera",
            configuration: { url: oldUrl },
          });
          const cam = await waitEntity(base, "old-ipcam", "ENTITY_STATE_READY", 40_000);
          assert.match(cam.status.message, /no converter carries video\/mjpeg/);
          const refused = await call(base, "POST", "/v1/flows", {
            sourceEntityId: "old-ipcam",
            targetEntityId: "tv-mjpeg",
          });
          assert.equal(refused.status, 400, JSON.stringify(refused.body));
          assert.equal(refused.body.code, 9, "FAILED_PRECONDITION");
          // Path-finding uses the formats the camera was probed to send (rtsp/mjpeg), not
          // the rtsp/h264 its type declares, so the flow is refused before any connection.
          assert.match(
            refused.body.message,
            /no video path from "old-ipcam" .*reachable video formats: rtsp\/mjpeg;/,
          );
        },
      );

      await t.step("an unknown screen page is a clear page, not a blank one", async () => {
        const screens = new URL(await pageOf("tv-hls")).origin;
        const res = await fetch(`${screens}/screens/nope`);
        assert.equal(res.status, 404);
        const page = await browser!.newPage();
        await page.goto(`${screens}/screens/nope`);
        const text = await page.locator("body").innerText();
        assert.match(text, /No screen "nope"/);
        assert.match(text, /tv-hls/, "it lists the real screens");
        await page.close();
      });

      await t.step("WHEP: an offer without H.264 is 422, a wrong content type 415", async () => {
        const { flow } = await ok(base, "GET", "/v1/flows/ipcam-to-tv-webrtc");
        const whep = flow.connections.find((c: { address: string }) => c.address.includes("/whep/"))
          .address;
        const vp8Only = [
          "v=0",
          "o=- 1 2 IN IP4 127.0.0.1",
          "s=-",
          "t=0 0",
          "m=video 9 UDP/TLS/RTP/SAVPF 96",
          "c=IN IP4 0.0.0.0",
          "a=mid:0",
          "a=recvonly",
          "a=rtpmap:96 VP8/90000",
          "",
        ].join("\r\n");
        const refused = await fetch(whep, {
          method: "POST",
          headers: { "Content-Type": "application/sdp" },
          body: vp8Only,
        });
        assert.equal(refused.status, 422);
        assert.match(await refused.text(), /no H\.264 video \(it offers: VP8\)/);
        const wrongType = await fetch(whep, { method: "POST", body: "hello" });
        assert.equal(wrongType.status, 415);
        await wrongType.body?.cancel();
        // The screen still plays.
        await waitForStats(
          pages["tv-webrtc"],
          (s: ScreenStats) => s.last_frame_age_ms < 1000,
          5000,
          "still playing",
        );
      });
      console.log(figures.join("\n"));
    } finally {
      await browser?.close();
      await orch.stop();
    }
  },
});
