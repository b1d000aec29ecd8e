/**
 * The media the real modules report (`FlowStatus.media`, `EntityStatus.formats`), one
 * shared run: the example modules as real processes through the orchestrator, a
 * GStreamer test pattern played by screen pages in headless Chromium. The camera's SENT,
 * the converter's RECEIVED and SENT and the screen's PRESENTED frames rise while it plays;
 * under SIGSTOP of the converter's ffmpeg they stop rising (the converter's own restart is
 * set to 30 s and the flow's stall timeout to 10 min, so only ReestablishConnection
 * brings them back: its answer names the
 * killed ffmpeg, the frames rise again and `restarts` grows by one); the screen's
 * ReestablishConnection restarts the page's player, the camera's closes its RTSP sessions
 * (the converter reads again, the page plays on), the bridge's reopens its RTSP input
 * (viewers kept); a screen with `accept: ["mjpeg"]` says it plays only MJPEG, and is
 * refused HLS.
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { PipelineService } from "@callassistant/protocol";
import { Code, createClient, RpcError } from "@callassistant/rpc";
import { ROOT, startOrchestrator, waitFor } from "../helpers/test_orchestrator.ts";
import { call, ok, waitReady } from "../flows/flow_helpers.ts";
import { haveChromium, type TestBrowser } from "../web/browser.ts";
import { launchMediaBrowser, screenStats, waitForStats } from "./media_helpers.ts";

/** One MediaStats as the gateway shows it (uint64 as strings, enums by name). */
interface Stats {
  connectionId: string;
  side: string;
  frames?: string;
  bytes?: string;
  restarts?: number;
  codec?: string;
  lastFrameAt?: string;
  latencyMs?: number;
  latencySource?: string;
  width?: number;
}

/** The URL in an entity's status message ("open http://..."). */
function urlIn(message: string): string {
  const match = /http:\/\/[^\s;)]+/.exec(message);
  if (!match) throw new Error(`no URL in "${message}"`);
  return match[0];
}

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

const frames = (s: Stats | undefined) => Number(s?.frames ?? 0);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test({
  name: "media stats: real modules report frames per hop; stall, re-establish, accept",
  ignore: !haveChromium(),
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const orch = await startOrchestrator({
      modules: `${ROOT}modules`,
      env: {
        CA_MEDIA_HOST: "127.0.0.1",
        CA_SCREEN_HTTP_PORT: "0",
        CA_CAMERA_RTSP_PORT: "0",
        // Only ReestablishConnection may heal a stopped ffmpeg in this test.
        CA_CONVERTER_STALL_S: "30",
      },
    });
    const base = orch.url;
    let browser: TestBrowser | undefined;
    const clients: { close(): void }[] = [];
    try {
      const modules = await waitReady(
        base,
        ["camera", "ffmpeg-converter", "webrtc-bridge", "web-screen"],
        60_000,
      );
      const pipelineOf = (name: string) => {
        const c = createClient(PipelineService, `127.0.0.1:${modules[name].grpcPort}`);
        clients.push(c);
        return c;
      };
      const entity = (body: unknown) => ok(base, "POST", "/v1/entities", body);
      await entity({
        id: "cam",
        entityType: "test_pattern",
        configuration: { resolution: "640x360", fps: 25, bitrate_kbps: 600, audio: false },
      });
      await entity({ id: "tv", entityType: "web_screen" });
      await entity({
        id: "tv-mjpeg",
        entityType: "web_screen",
        configuration: { accept: ["mjpeg"] },
      });
      browser = await launchMediaBrowser();
      const pages: Record<string, Page> = {};
      const open = async (id: string) => {
        const { entity } = await ok(base, "GET", `/v1/entities/${id}`);
        pages[id] = await browser!.newPage();
        await pages[id].goto(urlIn(entity.status.message));
        return pages[id];
      };

      /** The MediaStats each module reports for the flow, by "module SIDE". */
      const mediaOf = async (flowId: string): Promise<Record<string, Stats>> => {
        const { flow } = await ok(base, "GET", `/v1/flows/${flowId}`);
        const out: Record<string, Stats> = {};
        for (const s of flow.statuses ?? []) {
          for (const m of (s.media ?? []) as Stats[]) {
            out[`${s.module} ${m.side.replace("MEDIA_SIDE_", "")}`] = m;
          }
        }
        return out;
      };

      await t.step("the camera's formats are what its stream sends", async () => {
        const { entity } = await ok(base, "GET", "/v1/entities/cam");
        const f = entity.status.formats;
        assert.equal(f.outputsProbed, true);
        assert.deepEqual(
          f.outputs.map((o: { protocol: string; codec: string }) => `${o.protocol}/${o.codec}`),
          ["rtsp/h264"],
          "no audio configured: none said",
        );
        assert.match(f.method, /x264enc/);
      });

      await t.step("a screen with accept=mjpeg says it plays only MJPEG", async () => {
        const formatsOf = async (id: string) => {
          const { entity } = await ok(base, "GET", `/v1/entities/${id}`);
          return entity.status.formats;
        };
        const names = (f: { inputs: { protocol: string; codec: string }[] }) =>
          f.inputs.map((i) => `${i.protocol}/${i.codec}`);
        const before = await formatsOf("tv-mjpeg");
        assert.deepEqual(names(before), ["mjpeg/mjpeg"]);
        assert.match(before.method, /no page has reported yet\); accept: mjpeg/);
        await open("tv-mjpeg");
        await open("tv");
        // Once its page reported, from what the browser really supports.
        const probed = await waitFor(
          async () => {
            const f = await formatsOf("tv-mjpeg");
            return /canPlayType/.test(f.method) ? f : undefined;
          },
          10_000,
          "the page's capabilities in the screen's formats",
        );
        assert.deepEqual(names(probed), ["mjpeg/mjpeg"]);
        assert.match(probed.method, /Chrome \d+: .*RTCRtpReceiver.getCapabilities; accept: mjpeg/);
        // The same browser, no accept list: more than MJPEG.
        const all = await waitFor(
          async () => {
            const f = await formatsOf("tv");
            return /canPlayType/.test(f.method) ? f : undefined;
          },
          10_000,
          "the other page's formats",
        );
        assert.ok(names(all).includes("mjpeg/mjpeg") && names(all).length > 1, names(all).join());
        const refused = await call(base, "POST", "/v1/flows", {
          id: "cam-to-tv-mjpeg-hls",
          sourceEntityId: "cam",
          targetEntityId: "tv-mjpeg",
          targetProtocol: "hls",
        });
        assert.ok(refused.status >= 400, `HLS to an MJPEG-only screen: ${JSON.stringify(refused)}`);
      });

      await t.step("HLS: every hop's frames rise while the screen plays", async () => {
        const { flow } = await ok(base, "POST", "/v1/flows", {
          id: "hls",
          sourceEntityId: "cam",
          targetEntityId: "tv",
          targetProtocol: "hls",
          // The orchestrator's watchdog (tests/media/watchdog_media_test.ts) stays out, so
          // the only ReestablishConnection under SIGSTOP is this test's own.
          stallTimeout: "600s",
        });
        assert.equal(flow.state, "FLOW_STATE_ACTIVE", flow.message);
        await waitForStats(
          pages.tv,
          (s) => s.flow_id === "hls" && s.frames_new > 25,
          20_000,
          "HLS frames",
        );
        const hops = [
          "camera SENT",
          "ffmpeg-converter RECEIVED",
          "ffmpeg-converter SENT",
          "web-screen PRESENTED",
        ];
        const first = await waitFor(
          async () => {
            const m = await mediaOf("hls");
            return hops.every((h) => frames(m[h]) > 0) ? m : undefined;
          },
          15_000,
          "frames on every hop",
        );
        await sleep(2500);
        const later = await mediaOf("hls");
        for (const h of hops) {
          assert.ok(
            frames(later[h]) > frames(first[h]),
            `${h}: ${frames(first[h])} -> ${frames(later[h])}`,
          );
        }
        const shown = later["web-screen PRESENTED"];
        assert.equal(shown.latencySource, "LATENCY_SOURCE_PIXEL_CLOCK");
        assert.ok(shown.latencyMs! > 0 && shown.latencyMs! < 10_000, `latency ${shown.latencyMs}`);
        assert.equal(later["camera SENT"].width, 640);
        assert.ok(
          Number(later["camera SENT"].bytes) > 0 &&
            Number(later["ffmpeg-converter SENT"].bytes) > 0,
        );
        assert.equal(later["ffmpeg-converter RECEIVED"].codec, "h264");
      });

      await t.step(
        "SIGSTOP of ffmpeg: frames stop; ReestablishConnection brings them back",
        async () => {
          const pid = (await ok(base, "GET", "/v1/modules/ffmpeg-converter")).module.pid;
          const ffmpeg = childrenOf(pid).find((p) => /ffmpeg .*-f hls/.test(commandOf(p)));
          assert.ok(ffmpeg, "the HLS ffmpeg runs");
          Deno.kill(ffmpeg, "SIGSTOP");
          try {
            // A report a second, frames counted every half second: after 2 s they stand.
            await sleep(2000);
            const stopped = (await mediaOf("hls"))["ffmpeg-converter RECEIVED"];
            await sleep(2000);
            const still = (await mediaOf("hls"))["ffmpeg-converter RECEIVED"];
            assert.equal(frames(still), frames(stopped), "no new frame while stopped");
            assert.equal(still.lastFrameAt, stopped.lastFrameAt);
            assert.ok(childrenOf(pid).includes(ffmpeg), "the converter left it alone (30 s)");
            const pipe = pipelineOf("ffmpeg-converter");
            const bad = (req: { flowId: string; connectionId: string }) =>
              pipe.reestablishConnection(req, { timeoutMs: 10_000 }).then(
                () => Code.OK,
                (err) => (err instanceof RpcError ? err.code : -1),
              );
            assert.equal(await bad({ flowId: "", connectionId: "" }), Code.INVALID_ARGUMENT);
            assert.equal(await bad({ flowId: "hls", connectionId: "nope" }), Code.NOT_FOUND);
            const res = await pipe.reestablishConnection(
              {
                flowId: "hls",
                connectionId: still.connectionId,
                reason: "test: no new frame for 4 s",
              },
              { timeoutMs: 10_000 },
            );
            assert.match(
              res.message,
              new RegExp(`ffmpeg \\(pid ${ffmpeg}\\) killed and started again`),
            );
            const back = await waitFor(
              async () => {
                const m = (await mediaOf("hls"))["ffmpeg-converter RECEIVED"];
                return frames(m) > frames(still) + 25 ? m : undefined;
              },
              20_000,
              "frames again after ReestablishConnection",
            );
            assert.equal(back.restarts, (still.restarts ?? 0) + 1);
            assert.ok(!childrenOf(pid).includes(ffmpeg), "the stopped ffmpeg is gone");
            await waitForStats(
              pages.tv,
              (s) =>
                s.last_frame_age_ms >= 0 && s.last_frame_age_ms < 1000 && s.state === "playing",
              20_000,
              "the page plays again",
            );
          } finally {
            try {
              Deno.kill(ffmpeg, "SIGCONT");
            } catch {
              // Killed already.
            }
          }
        },
      );

      await t.step("the screen's ReestablishConnection restarts the page's player", async () => {
        const shown = (await mediaOf("hls"))["web-screen PRESENTED"];
        const before = await screenStats(pages.tv);
        const res = await pipelineOf("web-screen").reestablishConnection(
          { flowId: "hls", connectionId: shown.connectionId, reason: "test" },
          { timeoutMs: 10_000 },
        );
        assert.match(res.message, /screen "tv": its page restarts its hls player/);
        await waitForStats(
          pages.tv,
          (s) => s.reconnects > before.reconnects && s.frames_new > before.frames_new + 25,
          20_000,
          "a restarted player showing frames",
        );
        const after = await waitFor(
          async () => {
            const m = (await mediaOf("hls"))["web-screen PRESENTED"];
            return (m.restarts ?? 0) > (shown.restarts ?? 0) ? m : undefined;
          },
          10_000,
          "the restart in the PRESENTED stats",
        );
        assert.ok(frames(after) > frames(shown), "counting went on");
      });

      await t.step(
        "the camera's ReestablishConnection closes its sessions; its readers come back",
        async () => {
          const media = await mediaOf("hls");
          const sent = media["camera SENT"];
          const restartsBefore = media["ffmpeg-converter RECEIVED"]?.restarts ?? 0;
          const before = await screenStats(pages.tv);
          const camera = pipelineOf("camera");
          await assert.rejects(
            camera.reestablishConnection(
              { flowId: "hls", connectionId: "no-such-connection", reason: "test" },
              { timeoutMs: 10_000 },
            ),
            (err: unknown) =>
              err instanceof RpcError && err.code === Code.NOT_FOUND &&
              /no-such-connection/.test(err.message),
          );
          const res = await camera.reestablishConnection(
            { flowId: "hls", connectionId: sent.connectionId, reason: "test" },
            { timeoutMs: 10_000 },
          );
          assert.match(res.message, /camera "cam": every RTSP session closed/);
          // The converter's ffmpeg lost its input (it restarts at once, whatever
          // CA_CONVERTER_STALL_S), so the page's frames stop, then rise again.
          const converter = await waitFor(
            async () => {
              const m = (await mediaOf("hls"))["ffmpeg-converter RECEIVED"];
              return (m?.restarts ?? 0) > restartsBefore ? m : undefined;
            },
            15_000,
            "the converter's ffmpeg started again",
          );
          assert.ok(converter);
          await waitForStats(
            pages.tv,
            (s) => s.frames_new > before.frames_new + 50,
            30_000,
            "frames on the screen after the camera was served afresh",
          );
        },
      );

      await t.step("MJPEG to the MJPEG-only screen: JPEGs presented", async () => {
        await ok(base, "DELETE", "/v1/flows/hls");
        await ok(base, "POST", "/v1/flows", {
          id: "mjpeg",
          sourceEntityId: "cam",
          targetEntityId: "tv-mjpeg",
          targetProtocol: "mjpeg",
        });
        const m = await waitFor(
          async () => {
            const m = await mediaOf("mjpeg");
            return frames(m["web-screen PRESENTED"]) > 25 ? m : undefined;
          },
          20_000,
          "MJPEG frames presented",
        );
        assert.equal(m["web-screen PRESENTED"].codec, "mjpeg");
        assert.equal(m["ffmpeg-converter SENT"].codec, "mjpeg");
        assert.ok(frames(m["ffmpeg-converter SENT"]) > 0);
      });

      await t.step(
        "WebRTC: the bridge's input and RTP; ReestablishConnection reopens its input",
        async () => {
          await ok(base, "DELETE", "/v1/flows/mjpeg");
          await ok(base, "POST", "/v1/flows", {
            id: "webrtc",
            sourceEntityId: "cam",
            targetEntityId: "tv",
            targetProtocol: "webrtc",
          });
          const hops = ["webrtc-bridge RECEIVED", "webrtc-bridge SENT", "web-screen PRESENTED"];
          const first = await waitFor(
            async () => {
              const m = await mediaOf("webrtc");
              return hops.every((h) => frames(m[h]) > 25) ? m : undefined;
            },
            30_000,
            "WebRTC frames on every hop",
          );
          assert.equal(first["webrtc-bridge RECEIVED"].width, 640);
          const input = first["webrtc-bridge RECEIVED"];
          const res = await pipelineOf("webrtc-bridge").reestablishConnection(
            { flowId: "webrtc", connectionId: input.connectionId, reason: "test" },
            { timeoutMs: 10_000 },
          );
          assert.match(
            res.message,
            /RTSP input rtsp:\/\/\S+ of bridge "\S+" reopened; viewers kept/,
          );
          const back = await waitFor(
            async () => {
              const m = await mediaOf("webrtc");
              const r = m["webrtc-bridge RECEIVED"];
              return (r.restarts ?? 0) > (input.restarts ?? 0) &&
                  frames(r) > frames(input) + 25 &&
                  frames(m["web-screen PRESENTED"]) > frames(first["web-screen PRESENTED"]) + 25
                ? m
                : undefined;
            },
            20_000,
            "frames through the reopened input to the page",
          );
          assert.ok(frames(back["webrtc-bridge SENT"]) > frames(first["webrtc-bridge SENT"]));
        },
      );
    } finally {
      for (const c of clients) c.close();
      await browser?.close();
      await orch.stop();
    }
  },
});
