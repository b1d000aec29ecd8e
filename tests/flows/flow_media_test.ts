/**
 * The media fields of the contract as the orchestrator stores them (no watchdog yet): a
 * flow's stall, first-frame and latency limits (checked, shown, persisted), a module's
 * media-only status reports (they change only the media), reports without media (they
 * keep it), and an entity's probed formats kept until the module reports others.
 */
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { durationFromMs, durationMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  EntityOrigin,
  EntityStatusSchema,
  FlowState,
  MediaSide,
  MediaType,
  QualityPreset,
  QualityProfileSchema,
  ReportStatusRequestSchema,
} from "@callassistant/protocol";
import { Code, RpcError } from "@callassistant/rpc";
import { Store } from "../../src/store/store.ts";
import type { Pipeline } from "../../src/flows/flow_pipeline.ts";
import { type FakeModules, fakePipeline, homeSetup } from "./fakes.ts";

async function camAndTv(p: Pipeline): Promise<void> {
  await p.flows.createEntity({
    entityType: "video_source",
    id: "cam",
    origin: EntityOrigin.CREATED,
  });
  await p.flows.createEntity({ entityType: "cast_screen", id: "tv", origin: EntityOrigin.CREATED });
}

/** One measured side of a connection, as a module reports it. */
function stats(connectionId: string, frames: number) {
  return {
    connectionId,
    side: MediaSide.PRESENTED,
    measuredAt: timestampFromMs(Date.now()),
    frames: BigInt(frames),
    fps: 25,
    codec: "h264",
  };
}

Deno.test("flow media limits: checked, shown as asked, persisted; unset means the default", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ca-flow-media-" });
  try {
    let modules: FakeModules = homeSetup();
    let store = Store.open(dir);
    let { pipeline } = fakePipeline(modules, store);
    await camAndTv(pipeline);
    for (
      const [limits, message] of [
        [
          { stallTimeout: durationFromMs(500) },
          /stall_timeout must be from 1 s to 10 min \(got 0.5 s\)/,
        ],
        [
          { firstFrameTimeout: durationFromMs(3_600_000) },
          /first_frame_timeout must be from 1 s to 10 min/,
        ],
        [{ maxLatency: durationFromMs(5) }, /max_latency must be from 10 ms to 10 min/],
        [{ stallTimeout: durationFromMs(-2000) }, /stall_timeout must be/],
      ] as const
    ) {
      await assert.rejects(
        pipeline.flows.create({ sourceEntityId: "cam", targetEntityId: "tv", mediaLimits: limits }),
        (err: unknown) =>
          err instanceof RpcError && err.code === Code.INVALID_ARGUMENT &&
          message.test(err.message),
      );
    }
    assert.equal(pipeline.flows.count(), 0, "a refused flow is not made");
    await pipeline.flows.create({
      sourceEntityId: "cam",
      targetEntityId: "tv",
      id: "f",
      mediaLimits: { stallTimeout: durationFromMs(7000), maxLatency: durationFromMs(800) },
    });
    const shown = pipeline.flows.toProto(pipeline.flows.require("f"));
    assert.equal(durationMs(shown.stallTimeout!), 7000);
    assert.equal(durationMs(shown.maxLatency!), 800);
    assert.equal(shown.firstFrameTimeout, undefined, "unset: the default applies");
    await pipeline.close();
    store.close();

    modules = homeSetup();
    store = Store.open(dir);
    ({ pipeline } = fakePipeline(modules, store));
    await pipeline.flows.settled();
    try {
      const again = pipeline.flows.toProto(pipeline.flows.require("f"));
      assert.equal(durationMs(again.stallTimeout!), 7000);
      assert.equal(durationMs(again.maxLatency!), 800);
      assert.equal(again.firstFrameTimeout, undefined);
    } finally {
      await pipeline.close();
      store.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("flow media: a media-only report changes only the media; other reports keep it", async () => {
  const modules = homeSetup();
  const { pipeline, bus } = fakePipeline(modules);
  const { flows } = pipeline;
  const applied: string[] = [];
  bus.subscribe((e) => e.type === "flow.quality_applied" && applied.push(e.module));
  try {
    await camAndTv(pipeline);
    const flow = await flows.create({ sourceEntityId: "cam", targetEntityId: "tv", id: "f" });
    const screen = () => flows.toProto(flow).statuses.find((s) => s.module === "screen")!;
    const connection = flow.connections.at(-1)!.id;
    await flows.adjustQuality("f", create(QualityProfileSchema, { preset: QualityPreset.LOW }));
    assert.equal(flows.qualityConfirmed(flow), false);
    const before = screen();
    assert.equal(before.state, FlowState.ACTIVE);

    flows.onModuleStatus(
      "screen",
      create(ReportStatusRequestSchema, {
        flows: [{ flowId: "f", media: [stats(connection, 10)] }],
      }),
    );
    let now = screen();
    assert.equal(now.media.length, 1);
    assert.equal(now.media[0].frames, 10n);
    assert.equal(now.media[0].side, MediaSide.PRESENTED);
    assert.equal(now.state, FlowState.ACTIVE, "the state stands");
    assert.equal(now.message, before.message, "the message stands");
    assert.equal(now.quality?.maxBitrateKbps, 500, "the quality stands");
    assert.equal(flows.qualityConfirmed(flow), false, "media confirms no quality");
    assert.deepEqual(applied, []);
    assert.equal(flow.state, FlowState.ACTIVE);

    // A full report without media keeps the media and confirms the quality.
    flows.onModuleStatus(
      "screen",
      create(ReportStatusRequestSchema, { flows: [modules.get("screen").table.status("f")] }),
    );
    now = screen();
    assert.equal(now.media[0]?.frames, 10n, "the media is kept");
    assert.deepEqual(applied, ["screen"]);
    // A newer media-only report replaces the media.
    flows.onModuleStatus(
      "screen",
      create(ReportStatusRequestSchema, {
        flows: [{ flowId: "f", media: [stats(connection, 60)] }],
      }),
    );
    assert.equal(screen().media[0].frames, 60n);
    // GetFlowStatus answers without media (this fake's) keep it too.
    const live = await flows.liveStatuses(flow);
    assert.equal(live.find((s) => s.module === "screen")?.media[0]?.frames, 60n);
    // A media-only report from a module not on the flow is ignored.
    flows.onModuleStatus(
      "nobody",
      create(ReportStatusRequestSchema, {
        flows: [{ flowId: "f", media: [stats(connection, 1)] }],
      }),
    );
    assert.equal(flows.toProto(flow).statuses.some((s) => s.module === "nobody"), false);
  } finally {
    await pipeline.close();
  }
});

Deno.test("entity formats: a probed list is kept until the module reports another", async () => {
  const modules = homeSetup();
  const { pipeline } = fakePipeline(modules);
  try {
    await camAndTv(pipeline);
    const { entities } = pipeline;
    const probed = {
      outputs: [{ mediaType: MediaType.VIDEO, protocol: "rtsp", codec: "h265" }],
      outputsProbed: true,
      method: "ffprobe of rtsp://cam",
    };
    pipeline.flows.onModuleStatus(
      "camera",
      create(ReportStatusRequestSchema, {
        entities: [{ entityId: "cam", message: "probed", formats: probed }],
      }),
    );
    assert.equal(entities.require("cam").status?.formats?.outputs[0]?.codec, "h265");
    // A later status without formats (the usual 1 Hz one) keeps them.
    pipeline.flows.onModuleStatus(
      "camera",
      create(ReportStatusRequestSchema, {
        entities: [create(EntityStatusSchema, { entityId: "cam", message: "sending" })],
      }),
    );
    const kept = entities.toProto(entities.require("cam"));
    assert.equal(kept.status?.message, "sending");
    assert.equal(kept.status?.formats?.method, "ffprobe of rtsp://cam");
    assert.equal(kept.status?.formats?.outputsProbed, true);
    // The live status read (this fake reports none) keeps them as well.
    const live = await entities.liveStatus("cam");
    assert.equal(live.formats?.outputs[0]?.codec, "h265");
    // Another list replaces them; another module's report about the entity is ignored.
    pipeline.flows.onModuleStatus(
      "camera",
      create(ReportStatusRequestSchema, {
        entities: [{ entityId: "cam", formats: { outputs: [], outputsProbed: true } }],
      }),
    );
    pipeline.flows.onModuleStatus(
      "screen",
      create(ReportStatusRequestSchema, {
        entities: [{ entityId: "cam", formats: { outputs: [], outputsProbed: false } }],
      }),
    );
    const replaced = entities.require("cam").status?.formats;
    assert.equal(replaced?.outputsProbed, true);
    assert.deepEqual(replaced?.outputs, []);
  } finally {
    await pipeline.close();
  }
});
