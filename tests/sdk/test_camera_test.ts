/**
 * The test-camera module over real gRPC: registration, health, the entity lifecycle and
 * its error paths.
 */
import assert from "node:assert/strict";
import { EntityService } from "@callassistant/protocol";
import { EntityKind, MediaType } from "@callassistant/protocol";
import { ModuleService } from "@callassistant/protocol";
import { PipelineService } from "@callassistant/protocol";
import { EntityState, HealthState } from "@callassistant/protocol";
import { createClient } from "@callassistant/rpc";
import { Code, RpcError } from "@callassistant/rpc";
import { type JsonObject, SDK_VERSION } from "@callassistant/sdk";
import { type ModuleProcess, startModule } from "./module_harness.ts";

/** Runs `fn` against a fresh test-camera process, stopped afterwards whatever happens. */
async function withCamera(
  fn: (clients: {
    module: ReturnType<typeof createClient<typeof ModuleService>>;
    entity: ReturnType<typeof createClient<typeof EntityService>>;
    pipeline: ReturnType<typeof createClient<typeof PipelineService>>;
    proc: ModuleProcess;
  }) => Promise<void>,
): Promise<void> {
  const proc = await startModule();
  const address = `127.0.0.1:${proc.port}`;
  const module = createClient(ModuleService, address);
  const entity = createClient(EntityService, address);
  const pipeline = createClient(PipelineService, address);
  try {
    await fn({ module, entity, pipeline, proc });
  } finally {
    module.close();
    entity.close();
    pipeline.close();
    await proc.stop();
  }
}

/** Asserts that `promise` rejects with an RpcError of `code` whose message matches. */
async function assertRpcError(promise: Promise<unknown>, code: Code, message?: RegExp) {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof RpcError, `expected an RpcError, got ${err}`);
    assert.equal(Code[err.code], Code[code], `message: ${err.message}`);
    if (message) assert.match(err.message, message);
    return true;
  });
}

Deno.test("test-camera: RegisterModule declares the video_source capability", async () => {
  await withCamera(async ({ module }) => {
    const res = await module.registerModule({ moduleId: "mod-1" }, { timeoutMs: 5000 });
    assert.equal(res.info?.name, "test-camera");
    assert.equal(res.info?.version, "0.1.0");
    assert.equal(res.info?.sdk, SDK_VERSION);
    assert.equal(res.requiresConfig, false);
    assert.equal(res.capabilities.length, 1);
    const cap = res.capabilities[0];
    assert.equal(cap.entityType, "video_source");
    assert.equal(cap.kind, EntityKind.SOURCE);
    assert.deepEqual(
      cap.outputs.map((f) => [f.mediaType, f.protocol, f.codec]),
      [[MediaType.VIDEO, "rtsp", "h264"], [MediaType.AUDIO, "rtsp", "aac"]],
    );
    assert.equal(cap.configSchema?.type, "object");
  });
});

Deno.test("test-camera: HealthCheck answers READY", async () => {
  await withCamera(async ({ module }) => {
    const res = await module.healthCheck({}, { timeoutMs: 5000 });
    assert.equal(HealthState[res.state], "READY");
  });
});

Deno.test("test-camera: create, status, list, configure and destroy an entity", async () => {
  await withCamera(async ({ entity }) => {
    const created = await entity.createEntity({
      entityId: "cam1",
      entityType: "video_source",
      name: "Front door",
      configuration: { fps: 25, resolution: "1920x1080" },
    });
    assert.equal(created.entity?.id, "cam1");
    assert.equal(created.entity?.name, "Front door");
    assert.equal(created.entity?.kind, EntityKind.SOURCE);
    assert.equal(created.entity?.state, EntityState.READY);
    assert.deepEqual(created.entity?.configuration, {
      url: "rtsp://127.0.0.1:8554/cam1",
      fps: 25,
      resolution: "1920x1080",
    });

    // Idempotent on the id: the same entity comes back.
    const again = await entity.createEntity({
      entityId: "cam1",
      entityType: "video_source",
      name: "Front door",
      configuration: { fps: 25, resolution: "1920x1080" },
    });
    assert.deepEqual(again.entity?.createdAt, created.entity?.createdAt);
    assert.equal((await entity.listEntities({})).entities.length, 1);

    const { status } = await entity.getEntityStatus({ entityId: "cam1" });
    assert.equal(status?.entityId, "cam1");
    assert.equal(status?.state, EntityState.READY);
    assert.ok(Math.abs((status?.metrics.fps ?? 0) - 25) <= 1, `fps ${status?.metrics.fps}`);
    assert.ok(
      (status?.metrics.bitrate_kbps ?? 0) > 1000,
      `bitrate ${status?.metrics.bitrate_kbps}`,
    );
    assert.equal(status?.metrics.width, 1920);

    await entity.createEntity({ entityId: "cam2", entityType: "video_source" });
    const listed = await entity.listEntities({});
    assert.deepEqual(listed.entities.map((e) => e.id).sort(), ["cam1", "cam2"]);

    const configured = await entity.configureEntity({
      entityId: "cam2",
      configuration: { url: "rtsp://10.0.0.5:554/stream", fps: 10 },
    });
    assert.equal(configured.entity?.configuration?.fps, 10);
    assert.equal(configured.entity?.configuration?.url, "rtsp://10.0.0.5:554/stream");
    const cam2 = await entity.getEntityStatus({ entityId: "cam2" });
    assert.ok(Math.abs((cam2.status?.metrics.fps ?? 0) - 10) <= 1);

    await entity.destroyEntity({ entityId: "cam1" });
    assert.deepEqual((await entity.listEntities({})).entities.map((e) => e.id), ["cam2"]);
    await assertRpcError(entity.getEntityStatus({ entityId: "cam1" }), Code.NOT_FOUND, /cam1/);
  });
});

Deno.test("test-camera: unknown entities are NOT_FOUND", async () => {
  await withCamera(async ({ entity }) => {
    await assertRpcError(entity.getEntityStatus({ entityId: "nope" }), Code.NOT_FOUND, /"nope"/);
    await assertRpcError(entity.destroyEntity({ entityId: "nope" }), Code.NOT_FOUND, /"nope"/);
    await assertRpcError(
      entity.configureEntity({ entityId: "nope", configuration: { fps: 5 } }),
      Code.NOT_FOUND,
      /"nope"/,
    );
  });
});

Deno.test("test-camera: bad requests are INVALID_ARGUMENT with a clear message", async () => {
  await withCamera(async ({ entity }) => {
    const create = (configuration: JsonObject, entityType = "video_source") =>
      entity.createEntity({
        entityId: "cam",
        entityType,
        configuration,
      });
    await assertRpcError(
      create({}, "screen"),
      Code.INVALID_ARGUMENT,
      /unknown entity type "screen"/,
    );
    await assertRpcError(
      entity.createEntity({ entityId: "", entityType: "video_source" }),
      Code.INVALID_ARGUMENT,
      /entity_id is required/,
    );
    await assertRpcError(create({ fps: "fast" }), Code.INVALID_ARGUMENT, /configuration\.fps/);
    await assertRpcError(create({ fps: 0 }), Code.INVALID_ARGUMENT, /1 to 60, got 0/);
    await assertRpcError(create({ fps: 2.5 }), Code.INVALID_ARGUMENT, /configuration\.fps/);
    await assertRpcError(
      create({ resolution: "1x1" }),
      Code.INVALID_ARGUMENT,
      /configuration\.resolution: expected one of .*1280x720/,
    );
    await assertRpcError(create({ resolution: "toString" }), Code.INVALID_ARGUMENT, /resolution/);
    await assertRpcError(create({ url: "http://cam/x" }), Code.INVALID_ARGUMENT, /rtsp:\/\/ URL/);
    await assertRpcError(
      create({ colour: "red" }),
      Code.INVALID_ARGUMENT,
      /unknown field "colour"/,
    );
    // Nothing was created by the failed calls.
    assert.equal((await entity.listEntities({})).entities.length, 0);

    // A bad reconfiguration keeps the old configuration.
    await entity.createEntity({ entityId: "cam", entityType: "video_source" });
    await assertRpcError(
      entity.configureEntity({ entityId: "cam", configuration: { fps: 1000 } }),
      Code.INVALID_ARGUMENT,
      /configuration\.fps/,
    );
    const { entities } = await entity.listEntities({});
    assert.equal(entities[0].configuration?.fps, 30);
  });
});

Deno.test("test-camera: PipelineService refuses flows it has no connection of", async () => {
  await withCamera(async ({ pipeline }) => {
    await assertRpcError(pipeline.startFlow({ flowId: "f1" }), Code.FAILED_PRECONDITION, /f1/);
    await assertRpcError(pipeline.getFlowStatus({ flowId: "f1" }), Code.NOT_FOUND, /f1/);
  });
});
