/**
 * The entity registry and flow manager against in-memory modules: choosing modules by
 * capability, the build order of a flow, undoing a failed build, refusing to destroy
 * used entities, recovery and re-routing when modules fail, persistence, quality.
 */
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { ReportStatusRequestSchema } from "@callassistant/protocol";
import { EntityKind } from "@callassistant/protocol";
import {
  EntityOrigin,
  EntityState,
  FlowState,
  ModuleState,
  QualityPreset,
  QualityProfileSchema,
} from "@callassistant/protocol";
import { Code, RpcError } from "@callassistant/rpc";
import { Store } from "../../src/store/store.ts";
import type { Pipeline } from "../../src/flows/flow_pipeline.ts";
import {
  AUDIO,
  converterCapability,
  FakeModules,
  fakePipeline,
  fmt,
  homeSetup,
  VIDEO,
} from "./fakes.ts";

/** Asserts that `promise` rejects with an RpcError of `code` whose message matches. */
async function rejects(promise: Promise<unknown>, code: Code, message: RegExp): Promise<RpcError> {
  let caught: RpcError | undefined;
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof RpcError, `expected an RpcError, got ${err}`);
    assert.equal(Code[err.code], Code[code], err.message);
    assert.match(err.message, message);
    caught = err;
    return true;
  });
  return caught!;
}

/** A camera and a screen entity. */
async function camAndTv(p: Pipeline): Promise<void> {
  await p.flows.createEntity({
    entityType: "video_source",
    name: "Front door",
    origin: EntityOrigin.CREATED,
  });
  await p.flows.createEntity({ entityType: "cast_screen", id: "tv", origin: EntityOrigin.CREATED });
}

Deno.test("entities: the module is chosen by capability; unknown, ambiguous and rejected are 400", async () => {
  const modules = homeSetup();
  modules.add("camera-2", [{
    entityType: "video_source",
    kind: EntityKind.SOURCE,
    outputs: [fmt(VIDEO, "rtsp", "h264")],
  }]);
  modules.get("screen").rejectConfig = (c) =>
    c.volume !== undefined && c.volume !== 5 ? "configuration.volume: must be 5" : undefined;
  const { pipeline } = fakePipeline(modules);
  const { flows, entities } = pipeline;
  try {
    const tv = await flows.createEntity({
      entityType: "cast_screen",
      name: "Living room",
      origin: EntityOrigin.CREATED,
    });
    assert.equal(tv.id, "living-room", "id derived from the name");
    assert.equal(tv.module, "screen");
    assert.equal(tv.kind, EntityKind.SINK);
    assert.ok(modules.get("screen").entities.has("living-room"));

    await rejects(
      flows.createEntity({ entityType: "toaster", origin: EntityOrigin.CREATED }),
      Code.INVALID_ARGUMENT,
      /unknown entity type "toaster"; known types: cast_screen \(screen\), rtsp_to_hls \(converter\), video_source \(camera, camera-2\)/,
    );
    await rejects(
      flows.createEntity({ entityType: "video_source", origin: EntityOrigin.CREATED }),
      Code.INVALID_ARGUMENT,
      /"video_source" is provided by several modules: camera, camera-2; name one in "module"/,
    );
    const cam = await flows.createEntity({
      entityType: "video_source",
      module: "camera-2",
      origin: EntityOrigin.CREATED,
    });
    assert.equal(cam.module, "camera-2");
    await rejects(
      flows.createEntity({
        entityType: "cast_screen",
        module: "camera",
        origin: EntityOrigin.CREATED,
      }),
      Code.INVALID_ARGUMENT,
      /module "camera" does not provide entity type "cast_screen"; it provides: video_source/,
    );
    await rejects(
      flows.createEntity({
        entityType: "cast_screen",
        configuration: { volume: 7 },
        origin: EntityOrigin.CREATED,
      }),
      Code.INVALID_ARGUMENT,
      /module "screen" rejected the configuration: configuration.volume: must be 5/,
    );
    await rejects(
      flows.createEntity({
        entityType: "cast_screen",
        id: "living-room",
        origin: EntityOrigin.CREATED,
      }),
      Code.ALREADY_EXISTS,
      /already exists/,
    );
    await rejects(
      flows.createEntity({ entityType: "cast_screen", id: "bad/id", origin: EntityOrigin.CREATED }),
      Code.INVALID_ARGUMENT,
      /id "bad\/id" is not valid/,
    );
    await rejects(
      flows.configureEntity("living-room", { volume: 9 }),
      Code.INVALID_ARGUMENT,
      /rejected the configuration: configuration.volume: must be 5/,
    );
    const renamed = await flows.configureEntity("living-room", { volume: 5 }, "Lounge");
    assert.equal(renamed.name, "Lounge");
    assert.deepEqual(renamed.configuration, { volume: 5 });
    assert.deepEqual(
      entities.list({ kind: EntityKind.SINK }).map((e) => e.id),
      ["living-room"],
    );
    assert.deepEqual(entities.list({ module: "camera-2" }).map((e) => e.id), [cam.id]);
    assert.equal(entities.list({ state: EntityState.OFFLINE }).length, 0);
    const status = await entities.liveStatus("living-room");
    assert.equal(status.metrics.fake, 1);

    await flows.destroyEntity("living-room");
    assert.equal(entities.get("living-room"), undefined);
    assert.equal(modules.get("screen").entities.has("living-room"), false);
  } finally {
    await pipeline.close();
  }
});

Deno.test("entities: secret configuration fields read ******** and keep their value when sent back", async () => {
  const modules = homeSetup();
  modules.add("ipcam", [{
    entityType: "rtsp_camera",
    kind: EntityKind.SOURCE,
    outputs: [fmt(VIDEO, "rtsp", "h264")],
    configSchema: {
      type: "object",
      properties: {
        url: { type: "string" },
        password: { type: "string", format: "password" },
        auth: { type: "object", properties: { token: { type: "string", writeOnly: true } } },
      },
    },
  }]);
  const { pipeline } = fakePipeline(modules);
  const { flows, entities } = pipeline;
  try {
    const created = await flows.createEntity({
      entityType: "rtsp_camera",
      id: "porch",
      origin: EntityOrigin.CREATED,
      configuration: { url: "rtsp://cam/x", password: "s3cret", auth: { token: "t0k" } },
    });
    const shown = entities.toProto(created).configuration;
    assert.deepEqual(shown, {
      url: "rtsp://cam/x",
      password: "********",
      auth: { token: "********" },
    });
    // The module got the real values, and keeps them when the client sends the mask back.
    assert.equal(modules.get("ipcam").entities.get("porch")?.configuration.password, "s3cret");
    await flows.configureEntity("porch", {
      url: "rtsp://cam/y",
      password: "********",
      auth: { token: "********" },
    });
    assert.deepEqual(modules.get("ipcam").entities.get("porch")?.configuration, {
      url: "rtsp://cam/y",
      password: "s3cret",
      auth: { token: "t0k" },
    });
    await flows.configureEntity("porch", { url: "rtsp://cam/y", password: "n3w" });
    assert.equal(modules.get("ipcam").entities.get("porch")?.configuration.password, "n3w");
    assert.equal(entities.toProto(entities.get("porch")!).configuration?.password, "********");
  } finally {
    await pipeline.close();
  }
});

Deno.test("flows: receiver first, sender with its address, started downstream first", async () => {
  const modules = homeSetup();
  const { pipeline, bus } = fakePipeline(modules);
  const { flows, entities } = pipeline;
  const events: string[] = [];
  bus.subscribe((e) => e.flowId && events.push(`${e.type} ${e.data?.to ?? ""}`.trim()));
  try {
    await camAndTv(pipeline);
    modules.log.length = 0;
    const flow = await flows.create({ sourceEntityId: "front-door", targetEntityId: "tv" });
    assert.equal(flow.id, "front-door-to-tv");
    assert.equal(flow.state, FlowState.ACTIVE);
    const conv = "front-door-to-tv-rtsp_to_hls";
    assert.deepEqual(flow.converters, [conv], "one converter serves video and audio");
    assert.deepEqual(modules.log, [
      `converter CreateEntity ${conv}`,
      "converter ConnectEntities RECEIVER front-door-to-tv-video-0",
      "camera ConnectEntities SENDER front-door-to-tv-video-0",
      "screen ConnectEntities RECEIVER front-door-to-tv-video-1",
      "converter ConnectEntities SENDER front-door-to-tv-video-1",
      "converter ConnectEntities RECEIVER front-door-to-tv-audio-0",
      "camera ConnectEntities SENDER front-door-to-tv-audio-0",
      "screen ConnectEntities RECEIVER front-door-to-tv-audio-1",
      "converter ConnectEntities SENDER front-door-to-tv-audio-1",
      "screen StartFlow front-door-to-tv",
      "converter StartFlow front-door-to-tv",
      "camera StartFlow front-door-to-tv",
    ]);
    // The sender got the address the receiver answered with.
    const side = modules.get("camera").table.connections.get("front-door-to-tv-video-0/2");
    assert.equal(side?.connection.address, "fake://converter/front-door-to-tv-video-0");
    const proto = flows.toProto(flow);
    assert.deepEqual(proto.path.map((h) => h.entityId), [
      "front-door",
      conv,
      "tv",
      "front-door",
      conv,
      "tv",
    ]);
    assert.equal(proto.connections.length, 4);
    assert.equal(proto.statuses.length, 3);
    assert.deepEqual(events, [
      "flow.created",
      "flow.state_changed CREATING",
      "flow.state_changed STARTING",
      "flow.state_changed ACTIVE",
    ]);
    for (const id of ["front-door", conv, "tv"]) {
      assert.equal(entities.get(id)?.state, EntityState.ACTIVE, `${id} carries media`);
    }
    assert.equal(entities.get(conv)?.origin, EntityOrigin.FLOW);
    const live = await flows.liveStatuses(flow);
    assert.deepEqual(live.map((s) => s.module), ["screen", "converter", "camera"]);
    assert.ok(live.every((s) => s.state === FlowState.ACTIVE && s.metrics.bitrate_kbps > 0));

    // No path: FAILED_PRECONDITION, and no flow is recorded.
    modules.get("converter").state = ModuleState.STOPPED; // Silently: only the path changes.
    await rejects(
      flows.create({ sourceEntityId: "front-door", targetEntityId: "tv", id: "nope" }),
      Code.FAILED_PRECONDITION,
      /no video path .* reachable video formats: rtsp\/h264; needed: hls\/h264; no audio path/,
    );
    assert.equal(flows.get("nope"), undefined);
    modules.get("converter").state = ModuleState.READY;
    await rejects(
      flows.create({ sourceEntityId: "front-door", targetEntityId: "front-door" }),
      Code.INVALID_ARGUMENT,
      /different/,
    );
    await rejects(
      flows.create({ sourceEntityId: "front-door", targetEntityId: conv }),
      Code.INVALID_ARGUMENT,
      /is a converter/,
    );
  } finally {
    await pipeline.close();
  }
});

Deno.test("flows: a pulling link gets the sender's URL to the receiver; no audio needed", async () => {
  const modules = new FakeModules();
  // The camera serves RTSP (a pull protocol) and has no microphone.
  const camera = modules.add("camera", [{
    entityType: "video_source",
    kind: EntityKind.SOURCE,
    outputs: [fmt(VIDEO, "rtsp", "h264")],
  }]);
  camera.address = (req) => `rtsp://127.0.0.1:8554/${req.sourceEntityId}`;
  // The screen takes video and audio, and pulls: as a receiver it serves nothing.
  const screen = modules.add("screen", [{
    entityType: "screen",
    kind: EntityKind.SINK,
    inputs: [fmt(VIDEO, "rtsp", "h264"), fmt(AUDIO, "rtsp", "aac")],
  }]);
  screen.address = () => "";
  const { pipeline } = fakePipeline(modules);
  try {
    await pipeline.flows.createEntity({
      entityType: "video_source",
      id: "cam",
      origin: EntityOrigin.CREATED,
    });
    await pipeline.flows.createEntity({
      entityType: "screen",
      id: "tv",
      origin: EntityOrigin.CREATED,
    });
    modules.log.length = 0;
    const flow = await pipeline.flows.create({ sourceEntityId: "cam", targetEntityId: "tv" });
    assert.equal(flow.state, FlowState.ACTIVE, flow.message);
    assert.deepEqual(modules.log, [
      "screen ConnectEntities RECEIVER cam-to-tv-video-0",
      "camera ConnectEntities SENDER cam-to-tv-video-0",
      "screen ConnectEntities RECEIVER cam-to-tv-video-0",
      "screen StartFlow cam-to-tv",
      "camera StartFlow cam-to-tv",
    ]);
    const url = "rtsp://127.0.0.1:8554/cam";
    assert.equal(screen.table.connections.get("cam-to-tv-video-0/1")?.connection.address, url);
    assert.equal(camera.table.connections.get("cam-to-tv-video-0/2")?.connection.address, url);
    const proto = pipeline.flows.toProto(flow);
    assert.deepEqual(proto.connections.map((c) => c.address), [url]);
    assert.deepEqual([...new Set(proto.path.map((h) => h.mediaType))], [VIDEO], "video only");
  } finally {
    await pipeline.close();
  }
});

Deno.test("flows: a pulling receiver answers no address, the sender answers where to fetch, the receiver is told", async () => {
  const modules = homeSetup();
  for (const name of ["camera", "converter", "screen"]) modules.get(name).pulls = true;
  const { pipeline } = fakePipeline(modules);
  const { flows } = pipeline;
  try {
    await camAndTv(pipeline);
    modules.log.length = 0;
    const flow = await flows.create({ sourceEntityId: "front-door", targetEntityId: "tv" });
    assert.equal(flow.state, FlowState.ACTIVE);
    const video = modules.log.filter((l) => l.includes("-video-"));
    assert.deepEqual(video, [
      "converter ConnectEntities RECEIVER front-door-to-tv-video-0",
      "camera ConnectEntities SENDER front-door-to-tv-video-0",
      "converter ConnectEntities RECEIVER front-door-to-tv-video-0",
      "screen ConnectEntities RECEIVER front-door-to-tv-video-1",
      "converter ConnectEntities SENDER front-door-to-tv-video-1",
      "screen ConnectEntities RECEIVER front-door-to-tv-video-1",
    ]);
    assert.deepEqual(flows.toProto(flow).connections.map((c) => c.address).slice(0, 2), [
      "served://camera/front-door-to-tv-video-0",
      "served://converter/front-door-to-tv-video-1",
    ]);

    // A receiver and a sender that both give no address: the flow fails naming both,
    // and what was made is undone.
    modules.get("camera").servedAddress = () => "";
    modules.log.length = 0;
    await rejects(
      flows.create({ sourceEntityId: "front-door", targetEntityId: "tv", id: "silent" }),
      Code.FAILED_PRECONDITION,
      /connection silent-video-0: neither the receiver ".*" \(converter\) nor the sender "front-door" \(camera\) gave an address for video\/rtsp\/h264/,
    );
    assert.ok(
      modules.log.includes("converter DestroyEntity silent-rtsp_to_hls"),
      modules.log.join("\n"),
    );
  } finally {
    await pipeline.close();
  }
});

Deno.test("flows: target_protocol picks the path reaching the target over that protocol, kept for re-routes", async () => {
  const modules = homeSetup();
  modules.add("browser", [{
    entityType: "web_screen",
    kind: EntityKind.SINK,
    inputs: [fmt(VIDEO, "webrtc", "h264"), fmt(VIDEO, "hls", "h264")],
  }]);
  modules.add("bridge", [{
    entityType: "rtsp_to_webrtc",
    kind: EntityKind.CONVERTER,
    transforms: [{
      input: fmt(VIDEO, "rtsp", "h264"),
      output: fmt(VIDEO, "webrtc", "h264"),
      cost: { cpu: 0.5, latencyMs: 50 },
    }],
  }]);
  const { pipeline } = fakePipeline(modules);
  const { flows } = pipeline;
  try {
    await camAndTv(pipeline);
    await flows.createEntity({
      entityType: "web_screen",
      id: "tablet",
      origin: EntityOrigin.CREATED,
    });
    const types = (paths: { hops: { entityType: string }[] }[]) =>
      paths[0].hops.map((h) => h.entityType);
    // The cheapest path is WebRTC; asked for HLS it goes through the HLS converter.
    assert.deepEqual(types(flows.findPath("front-door", "tablet").paths), [
      "video_source",
      "rtsp_to_webrtc",
      "web_screen",
    ]);
    assert.deepEqual(types(flows.findPath("front-door", "tablet", "HLS").paths), [
      "video_source",
      "rtsp_to_hls",
      "web_screen",
    ]);
    const flow = await flows.create({
      sourceEntityId: "front-door",
      targetEntityId: "tablet",
      targetProtocol: "hls",
    });
    assert.equal(flows.toProto(flow).targetProtocol, "hls");
    assert.deepEqual(types(flow.paths), ["video_source", "rtsp_to_hls", "web_screen"]);
    // A protocol the target does not receive over is refused, naming the ones it does.
    await rejects(
      flows.create({
        sourceEntityId: "front-door",
        targetEntityId: "tablet",
        targetProtocol: "mjpeg",
      }),
      Code.INVALID_ARGUMENT,
      /target_protocol: entity "tablet" \(browser\/web_screen\) does not receive over "mjpeg"; it receives over: webrtc, hls/,
    );
    // A re-route keeps the protocol: with the HLS converter down, the flow waits rather
    // than moving to WebRTC.
    modules.setState("converter", ModuleState.BACKOFF);
    await flows.settled();
    assert.equal(flow.state, FlowState.DEGRADED);
    assert.match(flow.message, /waiting for module "converter"/);
    assert.deepEqual(types(flow.paths), ["video_source", "rtsp_to_hls", "web_screen"]);
  } finally {
    await pipeline.close();
  }
});

Deno.test("flows: a module failing halfway leaves the flow FAILED and everything undone", async () => {
  const modules = homeSetup();
  const { pipeline } = fakePipeline(modules);
  const { flows, entities } = pipeline;
  try {
    await camAndTv(pipeline);
    for (const failing of ["StartFlow", "ConnectEntities"]) {
      modules.get("screen").failWhen = (method, req) =>
        method === failing && (failing !== "ConnectEntities" || req.connectionId === "f-audio-1")
          ? new RpcError(Code.INTERNAL, "decoder crashed")
          : undefined;
      modules.log.length = 0;
      const err = await rejects(
        flows.create({ sourceEntityId: "front-door", targetEntityId: "tv", id: "f" }),
        Code.INTERNAL,
        new RegExp(
          `flow "f" failed: ${failing} on module "screen" failed: INTERNAL: decoder crashed; everything made for the flow was undone`,
        ),
      );
      assert.ok(err);
      const flow = flows.require("f");
      assert.equal(flow.state, FlowState.FAILED);
      assert.deepEqual(flow.connections, []);
      assert.deepEqual(flow.converters, []);
      assert.equal(entities.get("f-rtsp_to_hls"), undefined, "the converter is destroyed");
      for (const m of modules.modules.values()) {
        assert.equal(m.table.connections.size, 0, `${m.name} has no connection left`);
        assert.ok(![...m.table.flows.values()].some((f) => f.running), `${m.name} runs nothing`);
      }
      assert.ok(modules.log.includes("converter DestroyEntity f-rtsp_to_hls"));
      assert.equal(entities.get("front-door")?.state, EntityState.READY);
      await flows.delete("f");
    }
    // Incompatible formats, refused by the module itself.
    modules.get("screen").failWhen = (method) =>
      method === "ConnectEntities"
        ? new RpcError(Code.FAILED_PRECONDITION, "cannot play video/hls/h264")
        : undefined;
    await rejects(
      flows.create({ sourceEntityId: "front-door", targetEntityId: "tv" }),
      Code.FAILED_PRECONDITION,
      /cannot play video\/hls\/h264/,
    );
  } finally {
    await pipeline.close();
  }
});

Deno.test("flows: an entity a flow uses is not destroyed unless forced", async () => {
  const modules = homeSetup();
  const { pipeline } = fakePipeline(modules);
  const { flows, entities } = pipeline;
  try {
    await camAndTv(pipeline);
    await flows.create({ sourceEntityId: "front-door", targetEntityId: "tv", id: "f" });
    await rejects(
      flows.destroyEntity("front-door"),
      Code.FAILED_PRECONDITION,
      /entity "front-door" is used by flow "f" \(ACTIVE\): delete it first, or destroy with force=true/,
    );
    await rejects(flows.destroyEntity("f-rtsp_to_hls"), Code.FAILED_PRECONDITION, /flow "f"/);
    await flows.destroyEntity("front-door", true);
    assert.equal(flows.get("f"), undefined, "the flow is deleted");
    assert.equal(entities.get("front-door"), undefined);
    assert.equal(entities.get("f-rtsp_to_hls"), undefined, "with its converter");
    assert.equal(modules.get("converter").entities.size, 0);
    assert.equal(entities.get("tv")?.state, EntityState.READY);
  } finally {
    await pipeline.close();
  }
});

Deno.test("flows: a module restart degrades the flow, then it is rebuilt with the same ids", async () => {
  const modules = homeSetup();
  const { pipeline, bus } = fakePipeline(modules);
  const { flows, entities } = pipeline;
  const states: string[] = [];
  bus.subscribe((e) => e.type === "flow.state_changed" && states.push(String(e.data?.to)));
  try {
    await camAndTv(pipeline);
    const flow = await flows.create({ sourceEntityId: "front-door", targetEntityId: "tv" });
    states.length = 0;
    modules.setState("converter", ModuleState.BACKOFF);
    await flows.settled();
    assert.equal(flow.state, FlowState.DEGRADED);
    assert.match(flow.message, /waiting for module "converter" \(BACKOFF: test\)/);
    assert.equal(entities.get("front-door-to-tv-rtsp_to_hls")?.state, EntityState.OFFLINE);
    assert.equal(entities.get("front-door")?.state, EntityState.READY);
    // The survivors were told to stop and disconnect.
    assert.equal(modules.get("camera").table.connections.size, 0);
    assert.equal(modules.get("screen").table.connections.size, 0);

    modules.setState("converter", ModuleState.STARTING);
    modules.setState("converter", ModuleState.READY);
    await flows.settled();
    assert.equal(flow.state, FlowState.ACTIVE);
    assert.equal(flow.message, "re-established");
    assert.deepEqual(flow.converters, ["front-door-to-tv-rtsp_to_hls"], "same converter id");
    assert.ok(modules.get("converter").entities.has("front-door-to-tv-rtsp_to_hls"), "recreated");
    assert.equal(modules.get("camera").table.connections.size, 2);
    assert.deepEqual(states, ["DEGRADED", "ACTIVE"]);

    // A module that silently lost the flow is caught by the monitor.
    modules.get("camera").table.flows.clear();
    modules.get("camera").table.connections.clear();
    await flows.monitor();
    await flows.settled();
    assert.equal(flow.state, FlowState.ACTIVE);
    assert.equal(modules.get("camera").table.connections.size, 2, "rebuilt");
    assert.deepEqual(states, ["DEGRADED", "ACTIVE", "DEGRADED", "ACTIVE"]);

    // The source's module parked FAILED: the flow cannot recover on its own.
    modules.setState("camera", ModuleState.FAILED);
    await flows.settled();
    assert.equal(flow.state, FlowState.FAILED);
    assert.match(flow.message, /cannot recover without module "camera" \(FAILED: test\)/);
    modules.setState("camera", ModuleState.STARTING);
    modules.setState("camera", ModuleState.READY);
    await flows.settled();
    assert.equal(flow.state, FlowState.ACTIVE, "back when the module is restarted by hand");
    assert.ok(modules.get("camera").entities.has("front-door"), "camera entity recreated");
  } finally {
    await pipeline.close();
  }
});

Deno.test("flows: re-routed through another converter module when the first one fails", async () => {
  const modules = homeSetup();
  modules.add("converter-b", [converterCapability()]);
  const { pipeline, bus } = fakePipeline(modules);
  const { flows, entities } = pipeline;
  const reroutes: string[] = [];
  bus.subscribe((e) => e.type === "flow.rerouted" && reroutes.push(e.message));
  try {
    await camAndTv(pipeline);
    const flow = await flows.create({
      sourceEntityId: "front-door",
      targetEntityId: "tv",
      id: "f",
    });
    assert.deepEqual(flow.converters, ["f-rtsp_to_hls"]);
    assert.equal(entities.get("f-rtsp_to_hls")?.module, "converter", "ties go alphabetically");

    modules.setState("converter", ModuleState.FAILED);
    await flows.settled();
    assert.equal(flow.state, FlowState.ACTIVE);
    assert.match(flow.message, /^re-routed: video: front-door > converter-b\/rtsp_to_hls > tv/);
    assert.equal(flow.converters.length, 1);
    const [conv] = flow.converters;
    assert.equal(entities.get(conv)?.module, "converter-b");
    assert.equal(entities.get("f-rtsp_to_hls"), undefined, "the old converter is forgotten");
    assert.equal(reroutes.length, 1);
    assert.match(reroutes[0], /converter\/rtsp_to_hls .*=> .*converter-b\/rtsp_to_hls/);
    assert.equal(modules.get("screen").table.connections.size, 2);
    assert.ok(modules.get("screen").table.flows.get("f")?.running);
  } finally {
    await pipeline.close();
  }
});

Deno.test("flows: stop, start, quality adjusted and confirmed by ReportStatus", async () => {
  const modules = homeSetup();
  const { pipeline, bus } = fakePipeline(modules);
  const { flows } = pipeline;
  const applied: string[] = [];
  bus.subscribe((e) => e.type === "flow.quality_applied" && applied.push(e.module));
  try {
    await camAndTv(pipeline);
    const flow = await flows.create({
      sourceEntityId: "front-door",
      targetEntityId: "tv",
      quality: create(QualityProfileSchema, { preset: QualityPreset.HIGH }),
    });
    assert.equal(modules.get("screen").table.flows.get(flow.id)?.quality.maxBitrateKbps, 4000);

    await flows.stop(flow.id);
    assert.equal(flow.state, FlowState.STOPPED);
    assert.equal(modules.get("camera").table.flows.get(flow.id)?.running, false);
    assert.equal(modules.get("camera").table.connections.size, 2, "connections stay");
    await flows.start(flow.id);
    assert.equal(flow.state, FlowState.ACTIVE);
    assert.equal(modules.get("camera").table.flows.get(flow.id)?.running, true);

    await rejects(
      flows.adjustQuality(flow.id, create(QualityProfileSchema, { framerate: 5000 })),
      Code.INVALID_ARGUMENT,
      /quality.framerate: 5000 is more than 1000/,
    );
    await flows.adjustQuality(flow.id, create(QualityProfileSchema, { preset: QualityPreset.LOW }));
    assert.equal(flow.quality.preset, QualityPreset.LOW);
    for (const m of modules.modules.values()) {
      assert.equal(m.table.flows.get(flow.id)?.quality.maxBitrateKbps, 500, m.name);
    }
    assert.equal(flows.qualityConfirmed(flow), false);
    assert.equal(
      flows.toProto(flow).statuses.find((s) => s.module === "camera")?.quality?.maxBitrateKbps,
      500,
    );
    for (const name of ["screen", "converter", "camera"]) {
      flows.onModuleStatus(
        name,
        create(ReportStatusRequestSchema, { flows: [modules.get(name).table.status(flow.id)] }),
      );
    }
    assert.equal(flows.qualityConfirmed(flow), true);
    assert.deepEqual(applied.sort(), ["camera", "converter", "screen"]);
    // Reports about other modules' flows, unknown flows or garbage are ignored.
    flows.onModuleStatus(
      "nobody",
      create(ReportStatusRequestSchema, { flows: [{ flowId: flow.id }] }),
    );
    flows.onModuleStatus(
      "camera",
      create(ReportStatusRequestSchema, { flows: [{ flowId: "nope" }] }),
    );
    // A module reporting the flow failed gets it rebuilt.
    modules.get("screen").table.flows.clear();
    modules.get("screen").table.connections.clear();
    flows.onModuleStatus(
      "screen",
      create(ReportStatusRequestSchema, { flows: [{ flowId: flow.id, state: FlowState.FAILED }] }),
    );
    await flows.settled();
    assert.equal(flow.state, FlowState.ACTIVE);
    assert.equal(modules.get("screen").table.flows.get(flow.id)?.quality.maxBitrateKbps, 500);
  } finally {
    await pipeline.close();
  }
});

Deno.test("flows: discovered entities are listed, announced, and waited for", async () => {
  const modules = homeSetup();
  modules.get("screen").discovered.set("tv", {
    id: "tv",
    entityType: "cast_screen",
    name: "TV",
    configuration: {},
  });
  const { pipeline, bus } = fakePipeline(modules);
  const { flows, entities } = pipeline;
  try {
    await flows.settled();
    assert.equal(entities.get("tv")?.origin, EntityOrigin.DISCOVERED);
    assert.equal(entities.get("tv")?.kind, EntityKind.SINK);
    await flows.createEntity({
      entityType: "video_source",
      id: "cam",
      origin: EntityOrigin.CREATED,
    });
    const flow = await flows.create({ sourceEntityId: "cam", targetEntityId: "tv" });
    assert.deepEqual(flow.discovered, ["tv"]);

    // The screen restarts and announces its screen only a moment later.
    modules.get("screen").discovered.clear();
    modules.setState("screen", ModuleState.BACKOFF);
    modules.setState("screen", ModuleState.READY);
    await flows.settled();
    assert.equal(entities.get("tv"), undefined, "the module no longer lists it");
    assert.equal(flow.state, FlowState.DEGRADED);
    assert.match(flow.message, /waiting for entity "tv" of module "screen"/);

    modules.get("screen").discovered.set("tv", {
      id: "tv",
      entityType: "cast_screen",
      name: "TV",
      configuration: {},
    });
    bus.publish({ type: "entities.changed", module: "screen", source: "module", message: "found" });
    await flows.settled();
    assert.equal(entities.get("tv")?.origin, EntityOrigin.DISCOVERED);
    assert.equal(flow.state, FlowState.ACTIVE);
  } finally {
    await pipeline.close();
  }
});

Deno.test("flows and entities persist: a new orchestrator rebuilds them with the same ids", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ca-flows-" });
  try {
    let modules: FakeModules = homeSetup();
    let store = Store.open(dir);
    let { pipeline } = fakePipeline(modules, store);
    await camAndTv(pipeline);
    await pipeline.flows.create({ sourceEntityId: "front-door", targetEntityId: "tv", id: "f" });
    await pipeline.flows.create({ sourceEntityId: "front-door", targetEntityId: "tv", id: "g" });
    await pipeline.flows.stop("g");
    await pipeline.close();
    store.close();

    // Fresh module processes, a fresh orchestrator, the same data directory.
    modules = homeSetup();
    store = Store.open(dir);
    ({ pipeline } = fakePipeline(modules, store));
    await pipeline.flows.settled();
    try {
      const f = pipeline.flows.require("f");
      assert.equal(f.state, FlowState.ACTIVE);
      assert.deepEqual(f.converters, ["f-rtsp_to_hls"]);
      assert.equal(
        pipeline.flows.require("g").state,
        FlowState.STOPPED,
        "a stopped flow stays stopped",
      );
      assert.deepEqual(
        pipeline.entities.list().map((e) => `${e.id}:${EntityOrigin[e.origin]}`),
        ["f-rtsp_to_hls:FLOW", "front-door:CREATED", "g-rtsp_to_hls:FLOW", "tv:CREATED"],
      );
      assert.ok(modules.get("camera").entities.has("front-door"), "recreated in its module");
      assert.ok(modules.get("screen").table.flows.get("f")?.running);
      await pipeline.flows.start("g");
      assert.equal(pipeline.flows.require("g").state, FlowState.ACTIVE);
    } finally {
      await pipeline.close();
      store.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
