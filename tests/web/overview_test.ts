/**
 * The overview page with real modules: the camera's GStreamer test pattern, a real ffmpeg
 * converter and a web screen (the example modules of `modules/`), plus a module whose
 * child spins a core. The page shows each module's CPU and memory with charts, the flow
 * with friendly names, its hops' figures and the converter it made folded under it, and
 * previews what the screen receives: MJPEG and HLS relayed on the orchestrator's origin,
 * decoded frames rising in the page, no request to another origin, no CSP error.
 * One shared chain (heavy on 2 cores): run this file alone.
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { addModule, ROOT, startOrchestrator, waitFor } from "../helpers/test_orchestrator.ts";
import { ok, waitReady } from "../flows/flow_helpers.ts";
import { type BrowserWindow, foreignRequests, haveChromium, textOf } from "./browser.ts";
import { launchMediaBrowser } from "../media/media_helpers.ts";

/** The preview panel's figures. */
function previewState(page: Page) {
  return page.evaluate(() => {
    const doc = (globalThis as unknown as BrowserWindow).document;
    const el = doc.querySelector(".preview") as unknown as {
      dataset: { frames?: string; protocol?: string; entity?: string };
    } | null;
    return {
      frames: Number(el?.dataset.frames ?? -1),
      protocol: el?.dataset.protocol ?? "",
      entity: el?.dataset.entity ?? "",
      info: doc.querySelector(".preview-info")?.textContent ?? "",
    };
  });
}

/** Waits until the preview shows `more` frames over what it showed when called. */
async function framesRise(page: Page, protocol: string, more: number, ms: number) {
  const start = await previewState(page);
  const base = Math.max(0, start.frames);
  return await waitFor(
    async () => {
      const s = await previewState(page);
      return s.protocol === protocol && s.frames >= base + more ? s : undefined;
    },
    ms,
    `${protocol} preview: ${more} more frames`,
  ).catch(async (err) => {
    throw new Error(
      `${(err as Error).message}; preview: ${JSON.stringify(await previewState(page))}`,
    );
  });
}

Deno.test({
  name: "overview: module CPU and memory, flow health with friendly names, live preview",
  ignore: !haveChromium(),
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
    await addModule(
      dir,
      "camera",
      `command: ["/usr/bin/python3", "${ROOT}modules/camera/main.py"]\n`,
    );
    await addModule(
      dir,
      "ffmpeg-converter",
      `command: ["/usr/bin/python3", "${ROOT}modules/ffmpeg-converter/main.py"]\n`,
    );
    await addModule(
      dir,
      "webrtc-bridge",
      `command: ["/usr/bin/python3", "${ROOT}modules/webrtc-bridge/main.py"]\n`,
    );
    await addModule(
      dir,
      "web-screen",
      `command: ["deno", "run", "--allow-all", "${ROOT}modules/web-screen/main.ts"]\n`,
    );
    await addModule(
      dir,
      "busy",
      `command: ["deno", "run", "--allow-all", "${ROOT}tests/fixtures/resource_hog.ts"]\n` +
        `env: { HOG: busy }\nlimits: { memory: 1GiB }\n`,
    );
    const orch = await startOrchestrator({
      modules: dir,
      env: {
        CA_MEDIA_HOST: "127.0.0.1",
        CA_SCREEN_HTTP_PORT: "0",
        CA_CAMERA_RTSP_PORT: "0",
        CA_RESOURCE_INTERVAL_MS: "1000",
      },
    });
    const base = orch.url;
    const browser = await launchMediaBrowser();
    try {
      await waitReady(
        base,
        ["camera", "ffmpeg-converter", "webrtc-bridge", "web-screen", "busy"],
        60_000,
      );
      const page = browser.page;
      const refused: string[] = [];
      page.on("response", (r) => {
        if (r.status() >= 400) refused.push(`${r.status()} ${new URL(r.url()).pathname}`);
      });
      await page.goto(`${base}/#/overview`);

      await t.step("modules: CPU and memory of each module, with charts", async () => {
        const row = 'table.overview-modules tr[data-key="busy"]';
        await page.waitForFunction(
          (sel) => {
            const doc = (globalThis as unknown as BrowserWindow).document;
            const cpu = doc.querySelector(`${sel} .col-cpu .value`)?.textContent ?? "";
            return /^\d+(\.\d)? %$/.test(cpu) && parseFloat(cpu) > 3;
          },
          row,
          { timeout: 20_000 },
        );
        const rss = await textOf(page, `${row} .col-rss .value`);
        assert.match(rss, /^\d+(\.\d)? MiB$/);
        assert.ok(parseFloat(rss) > 10, rss);
        assert.equal(await textOf(page, `${row} .col-rss .limit`), "limit 1024 MiB");
        assert.ok(
          Number(await textOf(page, `${row} .col-procs`)) >= 2,
          "the spinning child counts",
        );
        // Several samples make a line.
        await page.waitForFunction(
          (sel) => {
            const doc = (globalThis as unknown as BrowserWindow).document;
            const svg = doc.querySelector(`${sel} .col-cpu svg`) as unknown as {
              dataset: { points?: string };
            } | null;
            return Number(svg?.dataset.points ?? 0) >= 2;
          },
          row,
          { timeout: 15_000 },
        );
        const camera = await textOf(
          page,
          'table.overview-modules tr[data-key="camera"] .col-rss .value',
        );
        assert.match(camera, /MiB$/);
        // The busy module is not needed any more: its core goes back to the media.
        await ok(base, "POST", "/v1/modules/busy:stop", {});
      });

      await ok(base, "POST", "/v1/entities", {
        id: "cam",
        entityType: "test_pattern",
        name: "Front door",
        configuration: { resolution: "640x360", fps: 15, bitrate_kbps: 600 },
      });
      for (
        const [id, name] of [["tv", "Kitchen TV"], ["tablet", "Hall tablet"], ["phone", "Phone"]]
      ) {
        await ok(base, "POST", "/v1/entities", { id, entityType: "web_screen", name });
      }

      await t.step("a flow: friendly path, hops with figures, its converter folded", async () => {
        const { flow } = await ok(base, "POST", "/v1/flows", {
          id: "door-to-tv",
          sourceEntityId: "cam",
          targetEntityId: "tv",
          targetProtocol: "mjpeg",
        });
        assert.equal(flow.state, "FLOW_STATE_ACTIVE", flow.message);
        const converter = flow.path.find((h: { kind: string }) =>
          h.kind === "ENTITY_KIND_CONVERTER"
        );
        const card = 'article[data-key="door-to-tv"]';
        await page.waitForSelector(`${card} .flow-path`);
        const path = await textOf(page, `${card} .flow-path`);
        assert.match(path, new RegExp(`^Front door → .+ → Kitchen TV$`), path);
        // The converter the flow made is under the flow, not in the entities table.
        await page.waitForSelector(
          `${card} .converter-list li[data-entity="${converter.entityId}"]`,
          { state: "attached" },
        );
        await page.locator(`${card} .converter-list summary`).click();
        assert.match(
          await textOf(page, `${card} .converter-list li`),
          /\(rtsp_to_mjpeg, ffmpeg-converter\)/,
        );
        assert.equal(
          await page.locator(`table.overview-entities tr[data-key="${converter.entityId}"]`)
            .count(),
          0,
        );
        assert.equal(await page.locator('table.overview-entities tr[data-key="cam"]').count(), 1);
        // The converter reports figures: a hop row with fps.
        await page.waitForFunction(
          (sel) => {
            const doc = (globalThis as unknown as BrowserWindow).document;
            return [
              ...(doc as unknown as { querySelectorAll(s: string): { textContent: string }[] })
                .querySelectorAll(`${sel} .hops .col-fps .value`),
            ]
              .some((el) => parseFloat(el.textContent) > 0);
          },
          card,
          { timeout: 20_000 },
        );
        const health = await textOf(page, `${card} .flow-health .text`);
        assert.match(health, /^Media health: /);
        // Each poll adds a point to the hop's charts.
        await page.waitForFunction(
          (sel) => {
            const doc = (globalThis as unknown as BrowserWindow).document as unknown as {
              querySelectorAll(s: string): { dataset: { points?: string } }[];
            };
            return [...doc.querySelectorAll(`${sel} .hops .col-fps svg`)]
              .some((svg) => Number(svg.dataset.points ?? 0) >= 2);
          },
          card,
          { timeout: 15_000 },
        ).catch(async (err) => {
          const rows = await page.locator(`${card} .hops tr`).allTextContents();
          const points = await page.locator(`${card} .hops .col-fps svg`).evaluateAll((els) =>
            els.map((e) => (e as unknown as { dataset: { points?: string } }).dataset.points)
          );
          throw new Error(`${err.message}; hops ${JSON.stringify(rows)} points ${points}`);
        });
      });

      await t.step("preview of the flow's target over MJPEG: frames rise in the page", async () => {
        await page.getByRole("button", { name: "Preview flow door-to-tv" }).click();
        const s = await framesRise(page, "mjpeg", 30, 30_000);
        assert.match(s.info, /MJPEG from .*: 640×360/);
        await browser.screenshot(page, "overview-preview");
      });

      await t.step("preview of an entity: the screen, then HLS to another screen", async () => {
        await page.getByRole("button", { name: "Preview tv", exact: true }).click();
        await framesRise(page, "mjpeg", 15, 20_000);
        const { flow } = await ok(base, "POST", "/v1/flows", {
          id: "door-to-tablet",
          sourceEntityId: "cam",
          targetEntityId: "tablet",
          targetProtocol: "hls",
        });
        assert.equal(flow.state, "FLOW_STATE_ACTIVE", flow.message);
        const button = page.getByRole("button", { name: "Preview flow door-to-tablet" });
        await waitFor(async () => await button.isEnabled(), 20_000, "HLS preview offered");
        await button.click();
        await framesRise(page, "hls", 30, 45_000);
      });

      await t.step("preview over WebRTC: WHEP relayed, frames rise", async () => {
        const { flow } = await ok(base, "POST", "/v1/flows", {
          id: "door-to-phone",
          sourceEntityId: "cam",
          targetEntityId: "phone",
          targetProtocol: "webrtc",
        });
        assert.equal(flow.state, "FLOW_STATE_ACTIVE", flow.message);
        const button = page.getByRole("button", { name: "Preview flow door-to-phone" });
        await waitFor(async () => await button.isEnabled(), 20_000, "WebRTC preview offered");
        await button.click();
        await framesRise(page, "webrtc", 30, 45_000);
      });

      await t.step("Flow.health hops (the watchdog's shape) are read per hop", async () => {
        const hops = await page.evaluate(async () => {
          const m = await import("/ui/hop_figures.js");
          return m.hopsOf({
            connections: [],
            statuses: [{ module: "ignored", metrics: { fps: 1 } }],
            health: {
              watched: true,
              hops: [{
                connectionId: "c1",
                side: "MEDIA_SIDE_PRESENTED",
                module: "web-screen",
                entityId: "tv",
                state: "HOP_STATE_STALLED",
                message: "no new frame for 5.2 s",
                stats: { fps: 0, bitrateKbps: 812.5, latencyMs: 230, stalls: 2, frames: "1200" },
              }],
            },
          });
        });
        assert.deepEqual(hops, [{
          key: "c1/MEDIA_SIDE_PRESENTED",
          side: "presented",
          module: "web-screen",
          entityId: "tv",
          state: "STALLED",
          message: "no new frame for 5.2 s",
          fps: 0,
          bitrateKbps: 812.5,
          latencyMs: 230,
          stalls: 2,
          frames: 1200,
        }]);
      });

      await t.step("the page asked nothing of another origin and broke no CSP", () => {
        assert.deepEqual(foreignRequests(browser.requests, base), []);
        // The converter answers 404 for its playlist until ffmpeg wrote enough of it, and
        // the bridge 503 (Retry-After) while its camera input is not sending yet, e.g. on
        // a loaded machine (see docs/media.md): the preview tries again. Nothing else may
        // fail.
        const expected =
          /^(404 \/preview\/entities\/[^/]+\/hls\/index\.m3u8|503 \/preview\/entities\/[^/]+\/whep)$/;
        assert.deepEqual(refused.filter((r) => !expected.test(r)), []);
        const failed = refused.length;
        assert.deepEqual(
          browser.errors.filter((e) => !/status of (404|503)/.test(e)),
          [],
          "no CSP violation or script error",
        );
        assert.ok(
          browser.errors.filter((e) => /status of (404|503)/.test(e)).length <= failed,
          "every console 404 or 503 is one of the refusals above",
        );
      });

      await t.step("bad preview requests get clear answers", async () => {
        const none = await fetch(`${base}/preview/entities/nope`);
        assert.equal(none.status, 404);
        assert.match((await none.json()).message, /entity "nope" sends no browser-playable media/);
        const camera = await fetch(`${base}/preview/entities/cam`);
        assert.equal(camera.status, 404, "the camera sends RTSP only");
        await camera.body?.cancel();
        const tvFeed = (await ok(base, "GET", "/v1/flows/door-to-tablet")).flow.connections.find(
          (c: { targetEntityId: string }) => c.targetEntityId === "tablet",
        ).sourceEntityId;
        const bad = await fetch(`${base}/preview/entities/${tvFeed}/hls/..%2Fsecret`);
        assert.equal(bad.status, 400);
        await bad.body?.cancel();
        const wrong = await fetch(`${base}/preview/entities/${tvFeed}/mjpeg`);
        assert.equal(wrong.status, 409);
        await wrong.body?.cancel();
      });
    } finally {
      await browser.close();
      await orch.stop();
    }
  },
});
