/**
 * Entities and flows end to end through the HTTP gateway: the real orchestrator, the
 * example modules (the Python cast screen included) as real processes, kill -9 of a
 * module, and a restart of the orchestrator on the same data directory.
 */
import assert from "node:assert/strict";
import { PipelineService } from "@callassistant/protocol";
import { createClient } from "@callassistant/rpc";
import { Code, RpcError } from "@callassistant/rpc";
import {
  isAlive,
  startOrchestrator,
  type TestOrchestrator,
  waitFor,
} from "../helpers/test_orchestrator.ts";
import {
  addExample,
  addFixture,
  call,
  converterIds,
  ok,
  waitFlow,
  waitReady,
} from "./flow_helpers.ts";

const FAST_RESTART = "restart: { backoff: { initial: 50ms, max: 200ms } }\n";

// deno-lint-ignore no-explicit-any
type Json = any;

Deno.test("a simulated call: camera to cast screen and to a Matrix room, kill -9, restart", async () => {
  const modules = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  const data = await Deno.makeTempDir({ prefix: "ca-test-data-" });
  await addExample(modules, "test-camera");
  await addExample(modules, "media-converter", "media-converter", FAST_RESTART);
  await addExample(modules, "matrix-call");
  await addExample(
    modules,
    "cast-screen",
    "cast-screen",
    `env: { CAST_SCREEN_DISCOVER: "Hall TV" }\n`,
  );
  const names = ["test-camera", "media-converter", "matrix-call", "cast-screen"];
  let orch: TestOrchestrator | undefined = await startOrchestrator({ modules, data });
  const pids: number[] = [];
  try {
    let url = orch.url;
    const all = await waitReady(url, names);
    pids.push(...names.map((n) => all[n].pid));
    const converter = all["media-converter"].capabilities.find((c: Json) =>
      c.entityType === "rtsp_to_hls"
    );
    assert.equal(converter.kind, "ENTITY_KIND_CONVERTER");
    assert.deepEqual(converter.transforms[0].cost, { cpu: 1, latencyMs: 500, qualityLoss: 0 });
    assert.equal(all["cast-screen"].capabilities[0].kind, "ENTITY_KIND_SINK");

    // Entities: the module is chosen by capability.
    const camera = (await ok(url, "POST", "/v1/entities", {
      entityType: "video_source",
      name: "Front door",
      configuration: { fps: 25 },
    })).entity;
    assert.deepEqual([camera.id, camera.module, camera.kind], [
      "front-door",
      "test-camera",
      "ENTITY_KIND_SOURCE",
    ]);
    const screen = (await ok(url, "POST", "/v1/entities", {
      entityType: "cast_screen",
      name: "Kitchen screen",
      configuration: { host: "192.168.1.40", volume: 30 },
    })).entity;
    assert.deepEqual([screen.id, screen.module, screen.origin], [
      "kitchen-screen",
      "cast-screen",
      "ENTITY_ORIGIN_CREATED",
    ]);
    const room = (await ok(url, "POST", "/v1/entities", {
      entityType: "matrix_room_call",
      name: "Family",
      configuration: { room_id: "!family:example.org" },
    })).entity;
    assert.equal(room.kind, "ENTITY_KIND_ENDPOINT");
    // The screen the Python module found on its own.
    const hall = await waitFor(
      async () => {
        const { entities } = await ok(url, "GET", "/v1/entities?module=cast-screen");
        return entities.find((e: Json) => e.origin === "ENTITY_ORIGIN_DISCOVERED");
      },
      10_000,
      "the discovered screen",
    );
    assert.equal(hall.id, "cast-screen-hall-tv");
    assert.equal(hall.name, "Hall TV");

    // Bad input.
    const unknown = await call(url, "POST", "/v1/entities", { entityType: "toaster" });
    assert.equal(unknown.status, 400);
    assert.match(
      unknown.body.message,
      /unknown entity type "toaster"; known types: .*cast_screen \(cast-screen\)/,
    );
    const loud = await call(url, "POST", "/v1/entities", {
      entityType: "cast_screen",
      configuration: { volume: 500 },
    });
    assert.equal(loud.status, 400);
    assert.match(
      loud.body.message,
      /invalid configuration for entity type "cast_screen" of module "cast-screen": volume: must be <= 100/,
    );
    const filtered = await ok(
      url,
      "GET",
      "/v1/entities?kind=ENTITY_KIND_SINK&state=ENTITY_STATE_READY",
    );
    assert.deepEqual(filtered.entities.map((e: Json) => e.id), [
      "cast-screen-hall-tv",
      "kitchen-screen",
    ]);

    // Path-finding without building.
    const found = await ok(url, "POST", "/v1/paths:find", {
      sourceEntityId: "front-door",
      targetEntityId: "kitchen-screen",
    });
    assert.deepEqual(found.paths.map((p: Json) => p.mediaType), [
      "MEDIA_TYPE_VIDEO",
      "MEDIA_TYPE_AUDIO",
    ]);
    assert.deepEqual(
      found.paths[0].hops.map((h: Json) => `${h.module}/${h.entityType}`),
      ["test-camera/video_source", "media-converter/rtsp_to_hls", "cast-screen/cast_screen"],
    );
    assert.equal(found.totalCost, 51 + 50.5);

    // Flows.
    const toScreen = (await ok(url, "POST", "/v1/flows", {
      sourceEntityId: "front-door",
      targetEntityId: "kitchen-screen",
      quality: { preset: "QUALITY_PRESET_MEDIUM" },
    })).flow;
    assert.equal(toScreen.state, "FLOW_STATE_ACTIVE");
    const screenConverters = converterIds(toScreen);
    assert.deepEqual(screenConverters, ["front-door-to-kitchen-screen-rtsp_to_hls"]);
    assert.equal(toScreen.connections.length, 4);
    assert.match(toScreen.connections[1].address, /^cast:\/\/192\.168\.1\.40:8009\//);
    const toRoom = (await ok(url, "POST", "/v1/flows", {
      sourceEntityId: "front-door",
      targetEntityId: "family",
    })).flow;
    assert.equal(toRoom.state, "FLOW_STATE_ACTIVE");
    const audio = toRoom.path.filter((h: Json) => h.mediaType === "MEDIA_TYPE_AUDIO");
    assert.deepEqual(audio.map((h: Json) => h.entityType), [
      "video_source",
      "audio_transcoder",
      "rtsp_to_webrtc",
      "matrix_room_call",
    ]);
    const roomConverters = converterIds(toRoom);

    const used = await call(url, "DELETE", "/v1/entities/front-door");
    assert.equal(used.status, 400);
    assert.equal(used.body.code, Code.FAILED_PRECONDITION);
    assert.match(
      used.body.message,
      /used by flows "front-door-to-family" \(ACTIVE\), "front-door-to-kitchen-screen"/,
    );

    // Live status from every module, then a quality change they all apply.
    const live = (await ok(url, "GET", `/v1/flows/${toScreen.id}`)).flow;
    assert.deepEqual(live.statuses.map((s: Json) => s.module), [
      "cast-screen",
      "media-converter",
      "test-camera",
    ]);
    for (const s of live.statuses) {
      assert.equal(s.state, "FLOW_STATE_ACTIVE", s.module);
      assert.ok(
        s.metrics.bitrate_kbps > 1000 && s.metrics.bitrate_kbps <= 1500,
        `${s.module} bitrate`,
      );
    }
    assert.ok(live.statuses[0].metrics.latency_ms > 1000, "HLS playback buffers");
    const screenEntity = (await ok(url, "GET", "/v1/entities/kitchen-screen")).entity;
    assert.equal(screenEntity.status.state, "ENTITY_STATE_ACTIVE");
    assert.equal(screenEntity.status.metrics.volume, 30);
    await ok(url, "POST", `/v1/flows/${toScreen.id}:adjustQuality`, {
      quality: { preset: "QUALITY_PRESET_LOW" },
    });
    const low = (await ok(url, "GET", `/v1/flows/${toScreen.id}`)).flow;
    assert.equal(low.quality.preset, "QUALITY_PRESET_LOW");
    for (const s of low.statuses) {
      assert.equal(s.quality.maxBitrateKbps, 500, s.module);
      assert.ok(s.metrics.bitrate_kbps <= 500 && s.metrics.fps < 17, `${s.module} follows`);
    }

    // kill -9 the converter module: the flows come back through it, with the same ids.
    const converterPid = all["media-converter"].pid;
    Deno.kill(converterPid, "SIGKILL");
    for (const [id, converters] of [[toScreen.id, screenConverters], [toRoom.id, roomConverters]]) {
      const back = await waitFlow(
        url,
        id as string,
        "FLOW_STATE_ACTIVE",
        (f) =>
          f.statuses.length === 3 &&
          f.statuses.every((s: Json) => s.state === "FLOW_STATE_ACTIVE"),
      );
      assert.deepEqual(converterIds(back), converters, `${id} keeps its converter ids`);
    }
    const restarted = (await ok(url, "GET", "/v1/modules/media-converter")).module;
    assert.notEqual(restarted.pid, converterPid);
    pids.push(restarted.pid);
    assert.equal(
      (await ok(url, "GET", `/v1/flows/${toScreen.id}`)).flow.quality.preset,
      "QUALITY_PRESET_LOW",
    );

    // Restart the orchestrator on the same data directory: everything comes back.
    const status = await orch.stop();
    assert.equal(status.code, 0);
    orch = await startOrchestrator({ modules, data });
    url = orch.url;
    const again = await waitReady(url, names);
    pids.push(...names.map((n) => again[n].pid));
    for (const [id, converters] of [[toScreen.id, screenConverters], [toRoom.id, roomConverters]]) {
      const back = await waitFlow(url, id as string, "FLOW_STATE_ACTIVE");
      assert.deepEqual(converterIds(back), converters, `${id} keeps its converter ids`);
    }
    const { entities } = await ok(url, "GET", "/v1/entities");
    const ids = entities.map((e: Json) => e.id);
    for (
      const id of ["front-door", "kitchen-screen", "family", ...screenConverters, ...roomConverters]
    ) {
      assert.ok(ids.includes(id), `${id} is back`);
    }
    const back = (await ok(url, "GET", `/v1/flows/${toScreen.id}`)).flow;
    assert.ok(back.statuses.every((s: Json) => s.quality.maxBitrateKbps === 500), "quality kept");

    // Delete: the converters created for the flow go with it.
    await ok(url, "DELETE", `/v1/flows/${toScreen.id}`);
    const left = (await ok(url, "GET", "/v1/entities?kind=ENTITY_KIND_CONVERTER")).entities;
    assert.deepEqual(left.map((e: Json) => e.id).sort(), [...roomConverters].sort());
    assert.equal((await call(url, "GET", `/v1/flows/${toScreen.id}`)).status, 404);
  } finally {
    await orch?.stop();
    await Deno.remove(modules, { recursive: true });
    await Deno.remove(data, { recursive: true });
  }
  for (const pid of pids) assert.ok(!isAlive(pid), `module process ${pid} is gone`);
});

Deno.test("a module failing halfway is undone; a FAILED converter module is routed around", async () => {
  const modules = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  await addExample(modules, "test-camera");
  await addExample(modules, "media-converter", "media-converter", "restart: { policy: never }\n");
  await addExample(modules, "media-converter", "media-converter-b");
  await addFixture(modules, "failing-sink");
  const orch = await startOrchestrator({ modules });
  try {
    const url = orch.url;
    const all = await waitReady(url, [
      "test-camera",
      "media-converter",
      "media-converter-b",
      "failing-sink",
    ]);
    await ok(url, "POST", "/v1/entities", { entityType: "video_source", id: "cam" });
    await ok(url, "POST", "/v1/entities", {
      entityType: "test_sink",
      id: "broken",
      configuration: { fail_on: "StartFlow" },
    });
    await ok(url, "POST", "/v1/entities", { entityType: "test_sink", id: "fine" });

    const ambiguous = await call(url, "POST", "/v1/entities", { entityType: "rtsp_to_hls" });
    assert.equal(ambiguous.status, 400);
    assert.match(
      ambiguous.body.message,
      /provided by several modules: media-converter, media-converter-b/,
    );

    // StartFlow fails on the sink: the flow is FAILED and nothing of it is left.
    const failed = await call(url, "POST", "/v1/flows", {
      sourceEntityId: "cam",
      targetEntityId: "broken",
      id: "doomed",
    });
    assert.equal(failed.status, 500);
    assert.equal(failed.body.code, Code.INTERNAL);
    assert.match(
      failed.body.message,
      /flow "doomed" failed: StartFlow on module "failing-sink" failed: INTERNAL: decoder crashed; everything made for the flow was undone/,
    );
    const doomed = (await ok(url, "GET", "/v1/flows/doomed")).flow;
    assert.equal(doomed.state, "FLOW_STATE_FAILED");
    assert.deepEqual(doomed.connections, []);
    assert.deepEqual(
      (await ok(url, "GET", "/v1/entities?kind=ENTITY_KIND_CONVERTER")).entities,
      [],
    );
    const camera = createClient(PipelineService, `127.0.0.1:${all["test-camera"].grpcPort}`);
    try {
      await assert.rejects(
        camera.getFlowStatus({ flowId: "doomed" }, { timeoutMs: 5000 }),
        (err: unknown) => err instanceof RpcError && err.code === Code.NOT_FOUND,
        "the camera's side was disconnected",
      );
    } finally {
      camera.close();
    }
    assert.equal(
      (await ok(url, "GET", "/v1/entities/cam")).entity.status.state,
      "ENTITY_STATE_READY",
    );

    // Through the first converter module (ties go alphabetically); it dies for good.
    const flow =
      (await ok(url, "POST", "/v1/flows", { sourceEntityId: "cam", targetEntityId: "fine" })).flow;
    const [before] = converterIds(flow);
    assert.equal((await ok(url, "GET", `/v1/entities/${before}`)).entity.module, "media-converter");
    Deno.kill(all["media-converter"].pid, "SIGKILL");
    // Re-routed, and every module's live status caught up (a new converter may report
    // itself starting for a moment after the flow is ACTIVE again).
    const rerouted = await waitFlow(
      url,
      flow.id,
      "FLOW_STATE_ACTIVE",
      (f) =>
        f.path.some((h: Json) => h.module === "media-converter-b") &&
        f.statuses.every((s: Json) => s.state === "FLOW_STATE_ACTIVE"),
    );
    assert.match(rerouted.message, /re-routed/);
    const [after] = converterIds(rerouted);
    assert.notEqual(after, before);
    assert.equal(
      (await ok(url, "GET", `/v1/entities/${after}`)).entity.module,
      "media-converter-b",
    );
    assert.equal((await call(url, "GET", `/v1/entities/${before}`)).status, 404);
    assert.equal(
      (await ok(url, "GET", "/v1/modules/media-converter")).module.state,
      "MODULE_STATE_FAILED",
    );
    assert.ok(rerouted.statuses.length > 0);
  } finally {
    await orch.stop();
    await Deno.remove(modules, { recursive: true });
  }
});
