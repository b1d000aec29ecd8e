/**
 * Diagnostic for the HLS media gap after kill -9 of the converter: a timeline of one or
 * more kills (module READY, flow ACTIVE, playlist served, page state, new frames), each
 * relative to the kill. `deno run --allow-all scripts/bench/hls_gap_probe.ts [kills]`.
 */
import { ROOT } from "../../tests/helpers/test_orchestrator.ts";
import { sleep, waitFor } from "../../tests/helpers/wait.ts";
import { startOrchestrator } from "./bench_orchestrator.ts";
import { launchMediaBrowser, screenStats } from "../../tests/media/media_helpers.ts";

// deno-lint-ignore no-explicit-any
type Json = any;
const kills = Number(Deno.args[0] ?? 3);
/** PROBE_VERBOSE=1 prints every log line of the orchestrator and its modules. */
const verbose = Boolean(Deno.env.get("PROBE_VERBOSE"));
const orch = await startOrchestrator({
  modules: `${ROOT}modules`,
  env: {
    CA_MEDIA_HOST: "127.0.0.1",
    CA_SCREEN_HTTP_PORT: "0",
    CA_CAMERA_RTSP_PORT: "0",
  },
});
const api = async (method: string, path: string, body?: unknown): Promise<Json> => {
  const res = await fetch(`${orch.url}${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : {};
};
const browser = await launchMediaBrowser();
const gaps: number[] = [];
const cleanups: (() => void)[] = [];
try {
  await waitFor(
    async () => {
      const { modules } = await api("GET", "/v1/modules");
      return ["camera", "ffmpeg-converter", "web-screen"].every((n) =>
        modules.some((m: Json) => m.name === n && m.state === "MODULE_STATE_READY")
      );
    },
    60_000,
    "modules READY",
  );
  await api("POST", "/v1/entities", {
    id: "cam",
    entityType: "test_pattern",
    configuration: {
      resolution: "1280x720",
      fps: 25,
      bitrate_kbps: 2000,
      ...(Deno.env.get("KEYFRAMES")
        ? { keyframe_interval_s: Number(Deno.env.get("KEYFRAMES")) }
        : {}),
    },
  });
  await api("POST", "/v1/entities", { id: "tv", entityType: "web_screen" });
  await api("POST", "/v1/flows", {
    id: "f",
    sourceEntityId: "cam",
    targetEntityId: "tv",
    targetProtocol: "hls",
  });
  // A second reader of the camera, as the benchmark's WebRTC flow is: the camera's shared
  // media stays up while the converter is dead (no encoder restart on its return).
  const rtsp =
    /rtsp:\/\/[^"\s]+/.exec(JSON.stringify((await api("GET", "/v1/entities/cam")).entity))![0];
  const reader = new Deno.Command("ffmpeg", {
    args: [
      "-nostdin",
      "-loglevel",
      "error",
      "-rtsp_transport",
      "tcp",
      "-i",
      rtsp,
      "-c",
      "copy",
      "-f",
      "null",
      "-",
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  cleanups.push(() => reader.kill("SIGKILL"));
  const page = await browser.newPage();
  const url =
    /http:\/\/[^\s;)]+/.exec((await api("GET", "/v1/entities/tv")).entity.status.message)![0];
  await page.goto(url);
  if (Deno.env.get("HOLD")) {
    console.log(JSON.stringify((await api("GET", "/v1/entities/cam")).entity));
    await sleep(Number(Deno.env.get("HOLD")) * 1000);
  }
  for (let k = 0; k < kills; k++) {
    await waitFor(async () => (await screenStats(page)).frames_new > 100, 30_000, "playing");
    // Past the supervisor's stable_after (30 s): each kill meets the first-restart backoff.
    await sleep(k === 0 ? 3000 : 27_000);
    const b = await screenStats(page);
    console.log(
      `before kill ${
        k + 1
      }: fps ${b.fps} latency p50 ${b.latency_p50_ms} p95 ${b.latency_p95_ms} ` +
        `stalls ${b.stalls} reconnects ${b.reconnects} dropped ${b.frames_dropped}`,
    );
    const events: string[] = [];
    const t0 = Date.now();
    const mark = (what: string) => events.push(`${String(Date.now() - t0).padStart(6)} ${what}`);
    const stopLogs = orch.onLog((l) => {
      const m = String(l.line.msg ?? l.line.message ?? "");
      if (verbose || /module|flow|restart|spawn|ready|connect|reestablish/i.test(m)) {
        events.push(
          `${String(Date.now() - t0).padStart(6)} log: ${m} ${
            String(l.line.module ?? l.line.flow ?? "")
          } ${verbose ? JSON.stringify(l.line) : ""}`.slice(0, verbose ? 600 : 160),
        );
      }
    });
    let s = await screenStats(page);
    let last = s.frames_new, lastAt = Date.now(), state = s.state, srcUrl = String(s.url);
    const seen = new Set<string>();
    let modPid = 0;
    let modState = "", flowState = "", stoppedAt = 0, gap = 0;
    Deno.kill((await api("GET", "/v1/modules/ffmpeg-converter")).module.pid, "SIGKILL");
    mark("kill -9");
    while (Date.now() - t0 < 30_000) {
      await sleep(40);
      s = await screenStats(page);
      const now = Date.now();
      if (s.state !== state) {
        mark(`page state ${state} -> ${s.state} ${s.message}`.slice(0, 140)), state = s.state;
      }
      if (String(s.url) !== srcUrl) mark(`page url -> ${s.url}`), srcUrl = String(s.url);
      if (s.frames_new > last) {
        if (stoppedAt) {
          gap = now - stoppedAt;
          mark(`FIRST NEW FRAME, gap ${gap} ms`);
          break;
        }
        last = s.frames_new;
        lastAt = now;
      } else if (!stoppedAt && now - lastAt > 1000) {
        stoppedAt = lastAt;
        events.push(`${String(lastAt - t0).padStart(6)} last old frame`);
      }
      // The converter's HLS directory (made just before ffmpeg starts) and its playlist.
      for (const e of Deno.readDirSync("/dev/shm")) {
        if (!modPid || !e.name.startsWith(`ca-hls-${modPid}-`)) continue;
        const dir = `/dev/shm/${e.name}`;
        try {
          if (Deno.statSync(dir).mtime!.getTime() < t0) continue;
          const text = (() => {
            try {
              return Deno.readTextFileSync(`${dir}/index.m3u8`);
            } catch {
              return "";
            }
          })();
          const segs = (text.match(/#EXTINF:[0-9.]+/g) ?? []).map((x) => x.slice(8)).join(" ");
          const key = `${dir} ${segs}`;
          if (!seen.has(key)) seen.add(key), mark(`disk ${e.name.slice(-12)}: [${segs}]`);
        } catch { /* gone */ }
      }
      if ((now - t0) % 200 < 45) {
        const mod = (await api("GET", "/v1/modules/ffmpeg-converter")).module;
        const m = mod.state;
        modPid = mod.pid ?? 0;
        if (m !== modState) mark(`module ${m}`), modState = m;
        const f = (await api("GET", "/v1/flows/f")).flow.state;
        if (f !== flowState) mark(`flow ${f}`), flowState = f;
      }
    }
    stopLogs();
    events.sort((a, b) => Number(a.slice(0, 6)) - Number(b.slice(0, 6)));
    console.log(`--- kill ${k + 1}\n${events.join("\n")}`);
    gaps.push(gap);
  }
  console.log(`gaps: ${gaps.join(", ")} ms`);
} finally {
  for (const c of cleanups) c();
  await browser.close();
  await orch.stop();
}
