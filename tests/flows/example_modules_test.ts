/**
 * The example modules alone, over real gRPC, as a module author would test theirs: the
 * Python cast screen (on the Python SDK, events with the module token, exit at end of
 * standard input) and the pipeline sides of the TypeScript examples.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { EntityService } from "@callassistant/protocol";
import { EntityKind, MediaType } from "@callassistant/protocol";
import { ModuleService } from "@callassistant/protocol";
import { PipelineService } from "@callassistant/protocol";
import {
  ConnectionRole,
  EntityOrigin,
  EntityState,
  FlowState,
  QualityPreset,
} from "@callassistant/protocol";
import { createClient } from "@callassistant/rpc";
import { Code, RpcError } from "@callassistant/rpc";
import { EventServer, freePort, ModuleProcess, startModule } from "../sdk/module_harness.ts";

const MODULES = fileURLToPath(new URL("../../modules/", import.meta.url));
const SIMULATORS = fileURLToPath(new URL("../fixtures/simulators/", import.meta.url));
const PYTHON_SDK = fileURLToPath(new URL("../../packages/sdk-python", import.meta.url));
const HLS_VIDEO = { mediaType: MediaType.VIDEO, protocol: "hls", codec: "h264" };

function clients(port: number) {
  const address = `127.0.0.1:${port}`;
  const c = {
    module: createClient(ModuleService, address),
    entity: createClient(EntityService, address),
    pipeline: createClient(PipelineService, address),
  };
  return { ...c, close: () => Object.values(c).forEach((x) => x.close()) };
}

async function rejectsWith(promise: Promise<unknown>, code: Code, message: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof RpcError, String(err));
    assert.equal(Code[err.code], Code[code], err.message);
    assert.match(err.message, message);
    return true;
  });
}

/** Starts the Python module the way the orchestrator does (the SDK on PYTHONPATH). */
async function startCastScreen(env: Record<string, string>): Promise<ModuleProcess> {
  const port = freePort();
  const dataDir = await Deno.makeTempDir({ prefix: "cast-screen-test-" });
  const child = new Deno.Command("/usr/bin/python3", {
    args: ["cast_screen.py"],
    cwd: `${MODULES}cast-screen`,
    env: {
      GRPC_PORT: String(port),
      MODULE_NAME: "cast-screen",
      MODULE_DATA_DIR: dataDir,
      PYTHONPATH: PYTHON_SDK,
      ...env,
    },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const proc = new ModuleProcess(child, port, dataDir);
  try {
    await proc.waitForLine(`listening on 127.0.0.1:${port}`);
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return proc;
}

Deno.test("cast-screen (Python): the contract on the SDK, reports with the token, exits at EOF", async () => {
  const events = await EventServer.start();
  const proc = await startCastScreen({
    ORCHESTRATOR_ADDRESS: events.address,
    MODULE_TOKEN: "secret-token",
    CAST_SCREEN_DISCOVER: "Den TV",
  });
  const c = clients(proc.port);
  try {
    const reg = await c.module.registerModule({ moduleId: "cast-screen" }, { timeoutMs: 5000 });
    assert.equal(reg.info?.name, "cast-screen");
    assert.match(reg.info?.sdk ?? "", /^callassistant-sdk-python\//);
    const cap = reg.capabilities[0];
    assert.equal(cap.kind, EntityKind.SINK);
    assert.deepEqual(cap.inputs.map((f) => `${f.protocol}/${f.codec}`), ["hls/h264", "hls/aac"]);
    assert.equal(cap.configSchema?.type, "object");

    // It announces the screen it "found" with the module token.
    const found = await events.waitFor((r) => r.event?.type === "entities.changed");
    assert.equal(found.authorization, "Bearer secret-token");
    assert.equal(found.event?.entityId, "cast-screen-den-tv");
    const listed = await c.entity.listEntities({});
    assert.equal(listed.entities[0].origin, EntityOrigin.DISCOVERED);

    await rejectsWith(
      c.entity.createEntity({
        entityId: "tv",
        entityType: "cast_screen",
        configuration: { volume: "x" },
      }),
      Code.INVALID_ARGUMENT,
      /configuration.volume: expected an integer from 0 to 100/,
    );
    await rejectsWith(
      c.entity.createEntity({ entityId: "tv", entityType: "camera" }),
      Code.INVALID_ARGUMENT,
      /unknown entity type "camera"/,
    );
    const tv = await c.entity.createEntity({
      entityId: "tv",
      entityType: "cast_screen",
      name: "TV",
      configuration: { volume: 20 },
    });
    assert.equal(tv.entity?.configuration?.volume, 20);
    const again = await c.entity.createEntity({ entityId: "tv", entityType: "cast_screen" });
    assert.equal(again.entity?.configuration?.volume, 20, "the same id is the same screen");

    // Only the receiving side, only HLS H.264 / AAC.
    const link = {
      connectionId: "c1",
      flowId: "f1",
      sourceEntityId: "conv",
      targetEntityId: "tv",
      format: HLS_VIDEO,
    };
    await rejectsWith(
      c.pipeline.connectEntities({ ...link, role: ConnectionRole.SENDER, address: "x" }),
      Code.FAILED_PRECONDITION,
      /only receives/,
    );
    await rejectsWith(
      c.pipeline.connectEntities({
        ...link,
        role: ConnectionRole.RECEIVER,
        format: { mediaType: MediaType.VIDEO, protocol: "webrtc", codec: "h264" },
      }),
      Code.FAILED_PRECONDITION,
      /plays only video\/hls\/h264 and audio\/hls\/aac, not video\/webrtc\/h264/,
    );
    const connected = await c.pipeline.connectEntities({ ...link, role: ConnectionRole.RECEIVER });
    assert.match(connected.address, /^cast:\/\/127\.0\.0\.1:8009\/tv\/c1$/);
    await rejectsWith(
      c.pipeline.startFlow({ flowId: "f1", connectionIds: ["nope"] }),
      Code.FAILED_PRECONDITION,
      /unknown connection/,
    );
    const started = await c.pipeline.startFlow({
      flowId: "f1",
      connectionIds: ["c1"],
      quality: { preset: QualityPreset.HIGH },
    });
    assert.equal(started.status?.state, FlowState.ACTIVE);
    assert.equal(started.status?.quality?.maxBitrateKbps, 4000);
    assert.equal(
      (await c.entity.getEntityStatus({ entityId: "tv" })).status?.state,
      EntityState.ACTIVE,
    );

    // AdjustQuality: applied, then confirmed with ReportStatus.
    const adjusted = await c.pipeline.adjustQuality({
      flowId: "f1",
      quality: { preset: QualityPreset.LOW, framerate: 10 },
    });
    assert.equal(adjusted.quality?.maxBitrateKbps, 500);
    assert.equal(adjusted.quality?.framerate, 10);
    const confirmed = await events.waitFor((r) =>
      r.status?.flows.some((f) => f.flowId === "f1" && f.quality?.preset === QualityPreset.LOW) ??
        false
    );
    assert.equal(confirmed.authorization, "Bearer secret-token");
    const { status } = await c.pipeline.getFlowStatus({ flowId: "f1" });
    assert.ok((status?.metrics.bitrate_kbps ?? 0) <= 500);
    assert.ok(Math.abs((status?.metrics.fps ?? 0) - 10) < 1);

    await c.pipeline.stopFlow({ flowId: "f1" });
    assert.equal(
      (await c.pipeline.getFlowStatus({ flowId: "f1" })).status?.state,
      FlowState.STOPPED,
    );
    await c.pipeline.disconnectEntities({ connectionId: "c1", flowId: "f1" });
    await rejectsWith(c.pipeline.getFlowStatus({ flowId: "f1" }), Code.NOT_FOUND, /f1/);

    c.close();
    await proc.closeStdin();
    const exit = await proc.waitForExit(10_000);
    assert.equal(exit.code, 0);
    assert.match(proc.output, /standard input reached end of file/);
  } finally {
    c.close();
    await proc.stop();
    await events.close();
  }
});

Deno.test("example modules: the camera only sends, the converter checks its transforms", async () => {
  const camera = await startModule();
  const converter = await startModule({ cwd: `${SIMULATORS}media-converter/` });
  const cam = clients(camera.port);
  const conv = clients(converter.port);
  try {
    await cam.entity.createEntity({ entityId: "cam", entityType: "video_source" });
    const link = {
      connectionId: "c1",
      flowId: "f1",
      sourceEntityId: "cam",
      targetEntityId: "hls",
      address: "rtsp://127.0.0.1:8554/hls/c1",
    };
    await rejectsWith(
      cam.pipeline.connectEntities({ ...link, role: ConnectionRole.RECEIVER, format: HLS_VIDEO }),
      Code.FAILED_PRECONDITION,
      /only sends media/,
    );
    await rejectsWith(
      cam.pipeline.connectEntities({ ...link, role: ConnectionRole.SENDER, format: HLS_VIDEO }),
      Code.FAILED_PRECONDITION,
      /sends video\/rtsp\/h264 and audio\/rtsp\/aac, not video\/hls\/h264/,
    );

    await conv.entity.createEntity({ entityId: "hls", entityType: "rtsp_to_hls" });
    await rejectsWith(
      conv.entity.createEntity({
        entityId: "x",
        entityType: "rtsp_to_hls",
        configuration: { gpu: true },
      }),
      Code.INVALID_ARGUMENT,
      /converters take no configuration/,
    );
    const rtsp = { mediaType: MediaType.VIDEO, protocol: "rtsp", codec: "h264" };
    await rejectsWith(
      conv.pipeline.connectEntities({ ...link, role: ConnectionRole.RECEIVER, format: HLS_VIDEO }),
      Code.FAILED_PRECONDITION,
      /cannot accept video\/hls\/h264; its inputs are video\/rtsp\/h264, audio\/rtsp\/aac/,
    );
    // RTSP is pulled: the converter serves nothing as a receiver, the camera answers its
    // own URL as the sender, and the converter is told that URL.
    const pull = { ...link, address: "", format: rtsp };
    const received = await conv.pipeline.connectEntities({
      ...pull,
      role: ConnectionRole.RECEIVER,
    });
    assert.equal(received.address, "");
    const sent = await cam.pipeline.connectEntities({ ...pull, role: ConnectionRole.SENDER });
    assert.equal(sent.address, "rtsp://127.0.0.1:8554/cam");
    const told = await conv.pipeline.connectEntities({
      ...pull,
      address: sent.address,
      role: ConnectionRole.RECEIVER,
    });
    assert.equal(told.connection?.address, "rtsp://127.0.0.1:8554/cam");
    // The same connection id for other entities is refused.
    await rejectsWith(
      cam.pipeline.connectEntities({
        ...pull,
        targetEntityId: "other",
        role: ConnectionRole.SENDER,
      }),
      Code.ALREADY_EXISTS,
      /connection "c1" already exists here for flow "f1", cam -> hls/,
    );
    for (const c of [conv, cam]) {
      const { status } = await c.pipeline.startFlow({ flowId: "f1", connectionIds: ["c1"] });
      assert.equal(status?.state, FlowState.ACTIVE);
      assert.equal(status?.quality?.maxBitrateKbps, 1500, "unset quality starts at MEDIUM");
    }
    const list = await cam.entity.listEntities({});
    assert.equal(list.entities[0].state, EntityState.ACTIVE);
  } finally {
    cam.close();
    conv.close();
    await camera.stop();
    await converter.stop();
  }
});
