/**
 * The SDK's EntityTable (the five EntityService handlers over entities kept in memory) and
 * FlowTable's default check (`receives`, `sends`, `has`): answers and error codes, called
 * as the server calls them.
 */
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import {
  ConnectEntitiesRequestSchema,
  ConnectionRole,
  EntityKind,
  EntityState,
  MediaType,
} from "@callassistant/protocol";
import { type CallContext, Code, RpcError } from "@callassistant/rpc";
import { EntityTable, FlowTable } from "@callassistant/sdk";

const CTX = {} as CallContext;
const VIDEO = { mediaType: MediaType.VIDEO, protocol: "rtsp", codec: "h264" };

function code(fn: () => unknown): Code | "ok" {
  try {
    fn();
    return "ok";
  } catch (err) {
    assert.ok(err instanceof RpcError, String(err));
    return err.code;
  }
}

Deno.test("EntityTable: create (idempotent), rename, configure check, status, destroy, list", () => {
  let activeId = "";
  const destroyed: string[] = [];
  const table = new EntityTable({
    entityType: "recorder",
    kind: EntityKind.SINK,
    active: (id) => id === activeId,
    configure: (c) => {
      if (c.bad) throw new RpcError(Code.INVALID_ARGUMENT, "configuration.bad: no");
    },
    onDestroy: (id) => destroyed.push(id),
  });
  const h = table.handlers();
  const created = h.createEntity!(
    { entityId: "r1", entityType: "recorder", name: "One" } as never,
    CTX,
  ) as {
    entity: { name: string; state: EntityState; kind: EntityKind };
  };
  assert.deepEqual([created.entity.name, created.entity.state, created.entity.kind], [
    "One",
    EntityState.READY,
    EntityKind.SINK,
  ]);
  h.createEntity!({ entityId: "r1", entityType: "recorder", name: "Other" } as never, CTX);
  assert.equal(table.find("r1").name, "One", "the same id again is the same entity");
  assert.equal(
    code(() => h.createEntity!({ entityId: "r2", entityType: "tv" } as never, CTX)),
    Code.INVALID_ARGUMENT,
  );
  assert.equal(
    code(() => h.createEntity!({ entityId: "", entityType: "recorder" } as never, CTX)),
    Code.INVALID_ARGUMENT,
  );
  assert.equal(
    code(() => h.configureEntity!({ entityId: "r1", configuration: { bad: true } } as never, CTX)),
    Code.INVALID_ARGUMENT,
  );
  h.configureEntity!(
    { entityId: "r1", name: "Renamed", configuration: { level: 2 } } as never,
    CTX,
  );
  assert.deepEqual([table.find("r1").name, table.find("r1").configuration], ["Renamed", {
    level: 2,
  }]);
  activeId = "r1";
  const status = h.getEntityStatus!({ entityId: "r1" } as never, CTX) as {
    status: { state: EntityState };
  };
  assert.equal(status.status.state, EntityState.ACTIVE);
  assert.equal(code(() => h.getEntityStatus!({ entityId: "nope" } as never, CTX)), Code.NOT_FOUND);
  const list = h.listEntities!({} as never, CTX) as { entities: { id: string }[] };
  assert.deepEqual(list.entities.map((e) => e.id), ["r1"]);
  h.destroyEntity!({ entityId: "r1" } as never, CTX);
  assert.deepEqual(destroyed, ["r1"]);
  assert.equal(code(() => h.destroyEntity!({ entityId: "r1" } as never, CTX)), Code.NOT_FOUND);
});

Deno.test("FlowTable default check: the entity must exist and take the format in its role", () => {
  const flows = new FlowTable({ receives: [VIDEO], has: (id) => id === "rec" });
  const connect = flows.handlers().connectEntities!;
  const req = (over: Record<string, unknown>) =>
    create(ConnectEntitiesRequestSchema, {
      connectionId: "c1",
      flowId: "f1",
      sourceEntityId: "cam",
      targetEntityId: "rec",
      role: ConnectionRole.RECEIVER,
      format: VIDEO,
      ...over,
    });
  const ok = connect(req({}), CTX) as { address: string };
  assert.equal(ok.address, "", "no address function: it serves nothing");
  assert.equal(
    code(() => connect(req({ connectionId: "c2", targetEntityId: "nope" }), CTX)),
    Code.NOT_FOUND,
  );
  let message = "";
  try {
    connect(req({ connectionId: "c3", format: { ...VIDEO, protocol: "hls" } }), CTX);
  } catch (err) {
    message = (err as RpcError).message;
  }
  assert.match(message, /"rec" receives video\/rtsp\/h264, not video\/hls\/h264/);
  assert.equal(
    code(() =>
      connect(req({ connectionId: "c4", role: ConnectionRole.SENDER, sourceEntityId: "rec" }), CTX)
    ),
    Code.FAILED_PRECONDITION,
    "it sends nothing",
  );
});
