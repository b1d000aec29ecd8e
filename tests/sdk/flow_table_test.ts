/**
 * The SDK's side of the pipeline contract (FlowTable): the error code of each RPC on an
 * unknown flow or connection, repeated ConnectEntities, pulling links, and the quality
 * presets, whose numbers must be the ones the proto documents.
 */
import assert from "node:assert/strict";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import {
  type ConnectEntitiesRequest,
  ConnectEntitiesRequestSchema,
  ConnectionRole,
  FlowState,
  MediaType,
  QualityPreset,
  QualityProfileSchema,
} from "@callassistant/protocol";
import { type CallContext, Code, RpcError } from "@callassistant/rpc";
import { FlowTable, PRESETS, resolveQuality } from "@callassistant/sdk";
import { ROOT } from "../helpers/test_orchestrator.ts";

const CTX = {} as CallContext;
const VIDEO = { mediaType: MediaType.VIDEO, protocol: "rtsp", codec: "h264" };

function table() {
  return new FlowTable({
    check: () => {},
    // Serves as a sender only (rtsp is pulled).
    address: (req) =>
      req.role === ConnectionRole.SENDER ? `rtsp://127.0.0.1:8554/${req.sourceEntityId}` : "",
  });
}

function link(
  init: Omit<MessageInitShape<typeof ConnectEntitiesRequestSchema>, "$typeName"> = {},
): ConnectEntitiesRequest {
  return create(ConnectEntitiesRequestSchema, {
    connectionId: "c1",
    flowId: "f1",
    sourceEntityId: "cam",
    targetEntityId: "tv",
    format: VIDEO,
    role: ConnectionRole.SENDER,
    ...init,
  });
}

async function rejects(p: unknown, code: Code, message: RegExp) {
  await assert.rejects(Promise.resolve().then(() => p), (err: unknown) => {
    assert.ok(err instanceof RpcError, String(err));
    assert.equal(Code[err.code], Code[code], err.message);
    assert.match(err.message, message);
    return true;
  });
}

Deno.test("FlowTable: the codes of the contract on unknown flows and connections", async () => {
  const h = table().handlers();
  await rejects(
    (async () => await h.getFlowStatus!({ flowId: "nope" } as never, CTX))(),
    Code.NOT_FOUND,
    /flow "nope" has no connection/,
  );
  await rejects(
    (async () => await h.adjustQuality!({ flowId: "nope" } as never, CTX))(),
    Code.NOT_FOUND,
    /not started/,
  );
  // StopFlow and DisconnectEntities of something unknown are fine.
  assert.deepEqual(await h.stopFlow!({ flowId: "nope" } as never, CTX), {});
  assert.deepEqual(
    await h.disconnectEntities!({ connectionId: "x", flowId: "nope" } as never, CTX),
    {},
  );
  await h.connectEntities!(link(), CTX);
  await rejects(
    (async () => await h.startFlow!({ flowId: "f1", connectionIds: ["c1", "c9"] } as never, CTX))(),
    Code.FAILED_PRECONDITION,
    /unknown connection\(s\) c9 on this module: connect them first/,
  );
});

Deno.test("FlowTable: a repeated ConnectEntities is idempotent, a different one ALREADY_EXISTS", async () => {
  const t = table();
  const h = t.handlers();
  // A pulling link: the sender answers the URL it serves, given no address.
  const first = await h.connectEntities!(link(), CTX);
  assert.equal(first.address, "rtsp://127.0.0.1:8554/cam");
  const again = await h.connectEntities!(link(), CTX);
  assert.deepEqual(again, first);
  for (
    const changed of [
      { targetEntityId: "other" },
      { flowId: "f2" },
      { format: { ...VIDEO, codec: "h265" } },
    ]
  ) {
    await rejects(
      (async () => await h.connectEntities!(link(changed), CTX))(),
      Code.ALREADY_EXISTS,
      /connection "c1" already exists here for flow "f1", cam -> tv in video\/rtsp\/h264/,
    );
  }
  // The receiver side of the same id is another side; told the sender's URL, it keeps it.
  const receiver = await h.connectEntities!(link({ role: ConnectionRole.RECEIVER }), CTX);
  assert.equal(receiver.address, "");
  const told = await h.connectEntities!(
    link({ role: ConnectionRole.RECEIVER, address: first.address }),
    CTX,
  );
  assert.equal(told.connection?.address, first.address);
  assert.equal(t.connections.get("c1/1")?.connection.address, first.address);
});

Deno.test("quality: zero fields take the preset's values; UNSPECIFIED and AUTO are MEDIUM's", async () => {
  const low = resolveQuality(create(QualityProfileSchema, { preset: QualityPreset.LOW }));
  assert.deepEqual(
    [low.width, low.height, low.framerate, low.maxBitrateKbps, low.audioBitrateKbps],
    [640, 360, 15, 500, 32],
  );
  const mixed = resolveQuality(
    create(QualityProfileSchema, { preset: QualityPreset.LOW, framerate: 25 }),
  );
  assert.equal(mixed.framerate, 25);
  assert.equal(mixed.width, 640);
  assert.equal(mixed.preset, QualityPreset.LOW, "the preset stays as asked");
  const unset = resolveQuality(undefined);
  assert.deepEqual({ ...unset, preset: 0 }, { ...resolveQuality(medium()), preset: 0 });
  assert.deepEqual(PRESETS[QualityPreset.AUTO], PRESETS[QualityPreset.MEDIUM]);

  // The SDK's numbers are the proto's table (resources.proto, QualityPreset).
  const proto = await Deno.readTextFile(`${ROOT}proto/callassistant/v1/resources.proto`);
  const rows = [...proto.matchAll(
    /^\/\/ \| (\w+)\s+\| (\d+) x (\d+)\s+\| (\d+)\s+\| (\d+)\s+\| (\d+)\s+\|$/gm,
  )];
  assert.equal(rows.length, 5, "five rows in the table");
  for (const [, name, width, height, framerate, video, audio] of rows) {
    const preset = QualityPreset[name as keyof typeof QualityPreset];
    assert.deepEqual(PRESETS[preset], {
      width: Number(width),
      height: Number(height),
      framerate: Number(framerate),
      maxBitrateKbps: Number(video),
      audioBitrateKbps: Number(audio),
    }, name);
  }
  // A started flow answers with every field filled in.
  const h = table().handlers();
  await h.connectEntities!(link(), CTX);
  const started = await h.startFlow!(
    { flowId: "f1", connectionIds: ["c1"], quality: { preset: QualityPreset.HIGH } } as never,
    CTX,
  );
  assert.equal(started.status?.state, FlowState.ACTIVE);
  assert.equal(started.status?.quality?.width, 1920);
  assert.equal(started.status?.quality?.maxBitrateKbps, 4000);
});

function medium() {
  return create(QualityProfileSchema, { preset: QualityPreset.MEDIUM });
}
