/**
 * The media watchdog end to end: the real orchestrator and real module processes (the
 * media simulator fixture) that move counted frames between them and report MediaStats at
 * 1 Hz. Every step: a stall healed by ReestablishConnection, by the rebuild fallback of a
 * module without it, a re-route to another converter module and FAILED when no path is
 * left, a screen that cannot decode the first path's codec, probed formats, latency.
 */
import assert from "node:assert/strict";
import { startOrchestrator, type TestOrchestrator } from "../helpers/test_orchestrator.ts";
import { sleep } from "../helpers/wait.ts";
import { converterIds, ok, waitFlow, waitReady } from "./flow_helpers.ts";
import { addSim, collectEvents, eventsOf, type StreamedEvent } from "./media_sim.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

/**
 * Runs `fn` against an orchestrator with these media simulator modules (name -> env),
 * READY, with its events collected; ends them all whatever `fn` does.
 */
async function withSims(
  modules: Record<string, Record<string, string | number>>,
  fn: (url: string, watch: ReturnType<typeof collectEvents>) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ca-watchdog-" });
  let orch: TestOrchestrator | undefined;
  let watch: ReturnType<typeof collectEvents> | undefined;
  try {
    for (const [name, env] of Object.entries(modules)) await addSim(dir, name, env);
    orch = await startOrchestrator({ modules: dir });
    await waitReady(orch.url, Object.keys(modules));
    watch = collectEvents(orch.url);
    await fn(orch.url, watch);
  } finally {
    await watch?.close();
    await orch?.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

async function entity(url: string, entityType: string, id: string, module: string) {
  await ok(url, "POST", "/v1/entities", { entityType, id, module });
}

const types = (events: StreamedEvent[], flowId: string) =>
  events.filter((e) => e.flowId === flowId && e.type.startsWith("flow.")).map((e) => e.type);

function hop(flow: Json, side: string, module: string): Json {
  return flow.health?.hops?.find((h: Json) => h.side === side && h.module === module);
}

Deno.test("watchdog: a stalled converter goes DEGRADED naming the hop, ReestablishConnection brings frames back", async () => {
  await withSims({
    "cam": { SIM_ROLE: "camera" },
    "conv-a": { SIM_ROLE: "converter", SIM_STALL_AFTER_MS: 3000, SIM_HEAL: "reestablish" },
    "screen": { SIM_ROLE: "screen" },
  }, async (url, watch) => {
    await entity(url, "sim_camera", "cam1", "cam");
    await entity(url, "sim_screen", "tv", "screen");
    const created = await ok(url, "POST", "/v1/flows", {
      id: "f",
      sourceEntityId: "cam1",
      targetEntityId: "tv",
      stallTimeout: "1.5s",
    });
    assert.equal(created.flow.stallTimeout, "1.500s");
    // Flowing: every side measured, frames presented.
    const flowing = await waitFlow(
      url,
      "f",
      "FLOW_STATE_ACTIVE",
      (f) =>
        f.health?.watched === true && f.health.hops.length === 5 &&
        f.health.hops.every((h: Json) => h.state === "HOP_STATE_FLOWING"),
      10_000,
    );
    assert.deepEqual(
      flowing.health.hops.map((h: Json) => `${h.connectionId} ${h.module} ${h.side}`),
      [
        "f-video-0 cam MEDIA_SIDE_SENT",
        "f-video-0 conv-a MEDIA_SIDE_RECEIVED",
        "f-video-1 conv-a MEDIA_SIDE_SENT",
        "f-video-1 screen MEDIA_SIDE_RECEIVED",
        "f-video-1 screen MEDIA_SIDE_PRESENTED",
      ],
    );
    assert.equal(hop(flowing, "MEDIA_SIDE_PRESENTED", "screen").entityId, "tv");
    assert.ok(flowing.health.timeToFirstFrame, "time to first frame is known");

    // The converter stops moving frames: DEGRADED naming its hop, with the figures.
    const degraded = await waitFlow(url, "f", "FLOW_STATE_DEGRADED", () => true, 10_000);
    assert.match(
      degraded.message,
      /media stalled at connection f-video-0 RECEIVED \(conv-a\/f-sim_to_hls\)/,
    );
    assert.match(degraded.message, /no new frame for \d+\.\d s \(stall_timeout 1\.5 s; frames \d+/);
    const stalledAt = performance.now();
    // Frames come back by themselves.
    const back = await waitFlow(url, "f", "FLOW_STATE_ACTIVE", () => true, 10_000);
    const recoveredAfter = performance.now() - stalledAt;
    assert.match(back.message, /frames flowing again at connection f-video-0/);
    assert.equal(back.health.stalls, 1);
    assert.equal(back.health.reestablishments, 1);
    assert.equal(back.health.reroutes ?? 0, 0);
    assert.deepEqual(converterIds(back).length, 1, "the same path");
    await sleep(300);
    const order = types(watch.events, "f").filter((t) =>
      ["flow.stalled", "flow.reestablishing", "flow.reestablished", "flow.media_recovered"]
        .includes(t)
    );
    assert.deepEqual(order, [
      "flow.stalled",
      "flow.reestablishing",
      "flow.reestablished",
      "flow.media_recovered",
    ]);
    const stalled = eventsOf(watch.events, "f", "flow.stalled")[0];
    assert.equal(stalled.module, "conv-a");
    assert.equal(stalled.data.connectionId, "f-video-0");
    assert.equal(stalled.data.side, "RECEIVED");
    assert.ok(stalled.data.frames > 0, "the figures are in the event");
    assert.equal(stalled.data.stallTimeoutMs, 1500);
    const re = eventsOf(watch.events, "f", "flow.reestablished")[0];
    assert.equal(re.data.method, "ReestablishConnection");
    assert.match(re.message, /simulated media restarted/);
    console.log(`stall detected -> ACTIVE again: ${Math.round(recoveredAfter)} ms`);

    // /metrics: per flow and per hop.
    const text = await (await fetch(`${url}/metrics`)).text();
    assert.match(text, /callassistant_flow_stalls_total\{flow="f"\} 1/);
    assert.match(text, /callassistant_flow_reestablishments_total\{flow="f"\} 1/);
    assert.match(text, /callassistant_flow_reroutes_total\{flow="f"\} 0/);
    assert.match(
      text,
      /callassistant_flow_hop_fps\{flow="f",connection="f-video-0",side="sent",module="cam"\} 10/,
    );
    assert.match(text, /callassistant_flow_hop_bitrate_kbps\{flow="f",/);
    assert.match(text, /callassistant_flow_time_to_first_frame_seconds_count\{flow="f"\} 1/);
    assert.match(text, /callassistant_flow_time_to_first_frame_last_seconds\{flow="f"\} \d/);

    // A deleted flow leaves no series behind (histograms included).
    const deleted = await fetch(`${url}/v1/flows/f`, { method: "DELETE" });
    assert.equal(deleted.status, 200, await deleted.text());
    const after = await (await fetch(`${url}/metrics`)).text();
    assert.deepEqual(after.split("\n").filter((l) => l.includes('flow="f"')), []);
  });
});

Deno.test("watchdog: a module without ReestablishConnection (UNIMPLEMENTED) has the connection rebuilt", async () => {
  await withSims({
    "cam": { SIM_ROLE: "camera" },
    "conv-a": { SIM_ROLE: "converter", SIM_STALL_AFTER_MS: 2500, SIM_HEAL: "restart" },
    "screen": { SIM_ROLE: "screen" },
  }, async (url, watch) => {
    await entity(url, "sim_camera", "cam1", "cam");
    await entity(url, "sim_screen", "tv", "screen");
    await ok(url, "POST", "/v1/flows", {
      id: "f",
      sourceEntityId: "cam1",
      targetEntityId: "tv",
      stallTimeout: "1.5s",
    });
    await waitFlow(url, "f", "FLOW_STATE_DEGRADED", () => true, 10_000);
    const back = await waitFlow(url, "f", "FLOW_STATE_ACTIVE", () => true, 10_000);
    assert.match(back.message, /frames flowing again/);
    const re = eventsOf(watch.events, "f", "flow.reestablished")[0];
    assert.equal(re.data.method, "DisconnectEntities, ConnectEntities, StartFlow");
    assert.match(
      re.message,
      /connection rebuilt between "cam" and "conv-a" at http:\/\/127\.0\.0\.1:\d+/,
    );
    assert.equal(back.health.reestablishments, 1);
    assert.equal(back.health.reroutes ?? 0, 0);
    // The rebuilt connection carries frames to the screen.
    const presented = hop(back, "MEDIA_SIDE_PRESENTED", "screen");
    assert.equal(presented.state, "HOP_STATE_FLOWING");
  });
});

Deno.test("watchdog: re-establishing does not help -> re-route through another converter module, and FAILED once no path is left", async () => {
  await withSims({
    "cam": { SIM_ROLE: "camera" },
    "conv-a": { SIM_ROLE: "converter", SIM_STALL_AFTER_MS: 2000, SIM_HEAL: "never" },
    "conv-b": { SIM_ROLE: "converter", SIM_STALL_AFTER_MS: 2000, SIM_HEAL: "never" },
    "screen": { SIM_ROLE: "screen" },
  }, async (url, watch) => {
    await entity(url, "sim_camera", "cam1", "cam");
    await entity(url, "sim_screen", "tv", "screen");
    const created = await ok(url, "POST", "/v1/flows", {
      id: "f",
      sourceEntityId: "cam1",
      targetEntityId: "tv",
      stallTimeout: "1s",
      firstFrameTimeout: "2s",
    });
    assert.deepEqual(created.flow.path.map((h: Json) => h.module), ["cam", "conv-a", "screen"]);
    // conv-a stalls for good: re-routed through conv-b, which stalls too; then through
    // the dearer transform of each; then FAILED with the reason.
    const failed = await waitFlow(url, "f", "FLOW_STATE_FAILED", () => true, 40_000);
    const routes = eventsOf(watch.events, "f", "flow.rerouted").map((e) => e.data.to);
    assert.deepEqual(routes, [
      "video: cam1 > conv-b/sim_to_hls > tv",
      "video: cam1 > conv-a/sim_to_mjpeg > tv",
      "video: cam1 > conv-b/sim_to_mjpeg > tv",
    ]);
    const rerouting = eventsOf(watch.events, "f", "flow.rerouting")[0];
    assert.match(rerouting.message, /re-routing without converter conv-a\/sim_to_hls/);
    assert.match(
      rerouting.message,
      /re-establishing did not bring frames back within 1\.0 s/,
    );
    assert.match(failed.message, /media stalled at connection f-video-0 RECEIVED \(conv-b\//);
    assert.match(failed.message, /no other path without converter conv-b\/sim_to_mjpeg/);
    assert.match(failed.message, /no video path from "cam1"/);
    const stalls = eventsOf(watch.events, "f", "flow.stalled").map((e) =>
      `${e.module} ${e.data.connectionId}`
    );
    assert.deepEqual(stalls, [
      "conv-a f-video-0",
      "conv-b f-video-0",
      "conv-a f-video-0",
      "conv-b f-video-0",
    ]);
    const { flow } = await ok(url, "GET", "/v1/flows/f");
    assert.equal(flow.health.stalls, 4);
    assert.equal(flow.health.reroutes, 3);
    const text = await (await fetch(`${url}/metrics`)).text();
    assert.match(text, /callassistant_flow_reroutes_total\{flow="f"\} 3/);
    // Started by hand, the flow may take every path again.
    const restarted = await ok(url, "POST", "/v1/flows/f:start");
    assert.deepEqual(restarted.flow.path.map((h: Json) => h.module), ["cam", "conv-a", "screen"]);
    // Every step was an event, in order.
    const steps = types(watch.events, "f").filter((t) =>
      ["flow.stalled", "flow.reestablishing", "flow.rerouting", "flow.rerouted"].includes(t)
    );
    assert.deepEqual(steps.slice(0, 4), [
      "flow.stalled",
      "flow.reestablishing",
      "flow.rerouting",
      "flow.rerouted",
    ]);
  });
});

Deno.test("codec truth and latency: probed inputs pick the path, a screen presenting 0 frames is re-routed through a transcoding path, a slow flow to a lower-latency one", async () => {
  await withSims({
    "cam": { SIM_ROLE: "camera" },
    "conv": { SIM_ROLE: "converter" },
    // Decodes only MJPEG and does not say so: the first path (HLS H.264) shows nothing.
    "screen-h": { SIM_ROLE: "screen", SIM_ACCEPT: "mjpeg" },
    // Decodes only MJPEG and says so (probed inputs).
    "screen-p": { SIM_ROLE: "screen", SIM_ACCEPT: "mjpeg", SIM_PROBE: 1 },
    // Presents everything, 900 ms behind the camera (by the pixel clock).
    "screen-slow": { SIM_ROLE: "screen", SIM_LATENCY_MS: 900 },
  }, async (url, watch) => {
    await entity(url, "sim_camera", "cam1", "cam");
    await entity(url, "sim_screen", "tvh", "screen-h");
    await entity(url, "sim_screen", "tvp", "screen-p");
    await entity(url, "sim_screen", "tvs", "screen-slow");

    // Probed formats win over declared ones.
    const { entity: tvp } = await ok(url, "GET", "/v1/entities/tvp");
    assert.equal(tvp.status.formats.inputsProbed, true);
    const find = async (target: string) =>
      (await ok(url, "POST", "/v1/paths:find", { sourceEntityId: "cam1", targetEntityId: target }))
        .paths[0].hops.map((h: Json) => h.entityType).join(" > ");
    assert.equal(await find("tvh"), "sim_camera > sim_to_hls > sim_screen", "declared: HLS");
    assert.equal(await find("tvp"), "sim_camera > sim_to_mjpeg > sim_screen", "probed: MJPEG");

    // First frame: HLS reaches the screen, nothing is presented; re-routed through MJPEG.
    const created = await ok(url, "POST", "/v1/flows", {
      id: "h",
      sourceEntityId: "cam1",
      targetEntityId: "tvh",
      firstFrameTimeout: "2s",
      stallTimeout: "1s",
    });
    assert.ok(created.flow.path.some((h: Json) => h.entityType === "sim_to_hls"));
    const waiting = await waitFlow(
      url,
      "h",
      "FLOW_STATE_ACTIVE",
      (f) => hop(f, "MEDIA_SIDE_RECEIVED", "screen-h")?.state === "HOP_STATE_FLOWING",
      10_000,
    );
    assert.equal(hop(waiting, "MEDIA_SIDE_PRESENTED", "screen-h").state, "HOP_STATE_WAITING");
    const shown = await waitFlow(
      url,
      "h",
      "FLOW_STATE_ACTIVE",
      (f) =>
        f.path.some((h: Json) => h.entityType === "sim_to_mjpeg") &&
        hop(f, "MEDIA_SIDE_PRESENTED", "screen-h")?.state === "HOP_STATE_FLOWING",
      20_000,
    );
    assert.ok(Number(hop(shown, "MEDIA_SIDE_PRESENTED", "screen-h").stats.frames) > 0);
    const stalled = eventsOf(watch.events, "h", "flow.stalled")[0];
    assert.equal(stalled.module, "screen-h");
    assert.equal(stalled.data.side, "PRESENTED");
    assert.match(stalled.message, /no frame within first_frame_timeout 2\.0 s/);
    const rerouting = eventsOf(watch.events, "h", "flow.rerouting")[0];
    assert.match(rerouting.message, /re-routing without video\/hls\/h264 into "tvh"/);
    // Never ACTIVE with 0 frames presented once the first-frame window passed: the flow
    // went DEGRADED before the re-route.
    const states = watch.events.filter((e) => e.flowId === "h" && e.type === "flow.state_changed")
      .map((e) => e.data.to);
    assert.deepEqual(states, ["CREATING", "STARTING", "ACTIVE", "DEGRADED", "ACTIVE"]);

    // Latency over max_latency: DEGRADED, re-routed to the path that declares less.
    await ok(url, "POST", "/v1/flows", {
      id: "s",
      sourceEntityId: "cam1",
      targetEntityId: "tvs",
      maxLatency: "0.6s",
      stallTimeout: "1s",
    });
    const slow = await waitFlow(
      url,
      "s",
      "FLOW_STATE_DEGRADED",
      (f) => /no lower-latency path/.test(f.message),
      20_000,
    );
    assert.equal(slow.health.latencyMs, 900);
    assert.equal(slow.health.latencySource, "LATENCY_SOURCE_PIXEL_CLOCK");
    assert.equal(hop(slow, "MEDIA_SIDE_PRESENTED", "screen-slow").state, "HOP_STATE_SLOW");
    assert.match(slow.message, /latency 900 ms over max_latency 600 ms/);
    assert.ok(
      slow.path.some((h: Json) => h.entityType === "sim_to_mjpeg"),
      "the lower-latency path",
    );
    assert.equal(slow.health.reroutes, 1);
    const slowEvents = eventsOf(watch.events, "s", "flow.slow");
    assert.equal(slowEvents.length, 2, "once on each path");
    assert.equal(slowEvents[0].data.maxLatencyMs, 600);
    assert.match(
      eventsOf(watch.events, "s", "flow.rerouting")[0].message,
      /re-routing without video\/hls\/h264 into "tvs" \(latency 900 ms/,
    );
    const text = await (await fetch(`${url}/metrics`)).text();
    assert.match(text, /callassistant_flow_latency_seconds\{flow="s"\} 0\.9/);
    assert.match(
      text,
      /callassistant_flow_hop_latency_seconds_bucket\{le="1",flow="s",connection="s-video-1",side="presented"\} [1-9]/,
    );
  });
});
