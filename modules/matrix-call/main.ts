/**
 * matrix-call: a simulated Matrix room call. A `matrix_room_call` entity is an ENDPOINT:
 * it receives the local camera's media over WebRTC (H.264 video, Opus audio) and sends
 * the remote party's media back in the same formats. The call "starts" when a flow into
 * the room starts and "ends" when the last one stops; both are reported as events. No
 * Matrix server is contacted.
 */
import {
  Code,
  type ConnectEntitiesRequest,
  ConnectionRole,
  EntityKind,
  EntityOrigin,
  EntityState,
  FlowTable,
  formatName,
  type JsonObject,
  MediaType,
  RpcError,
  serveModule,
  timestampFromDate,
} from "@callassistant/sdk";

const ENTITY_TYPE = "matrix_room_call";
const FORMATS = [
  { mediaType: MediaType.VIDEO, protocol: "webrtc", codec: "h264" },
  { mediaType: MediaType.AUDIO, protocol: "webrtc", codec: "opus" },
];
const CONFIG_SCHEMA: JsonObject = {
  type: "object",
  additionalProperties: false,
  required: ["room_id"],
  properties: {
    room_id: { type: "string", pattern: "^[!#][^:]+:.+$", description: "e.g. !abc:example.org" },
    homeserver: { type: "string", format: "uri", default: "https://matrix.org" },
  },
};

interface RoomConfig extends JsonObject {
  room_id: string;
  homeserver: string;
}
interface Room {
  id: string;
  name: string;
  config: RoomConfig;
  createdAt: Date;
  updatedAt: Date;
  callStartedAt?: Date;
}
const rooms = new Map<string, Room>();

function invalid(message: string): never {
  throw new RpcError(Code.INVALID_ARGUMENT, message);
}

function parseConfig(raw: JsonObject = {}): RoomConfig {
  const unknown = Object.keys(raw).filter((k) => k !== "room_id" && k !== "homeserver");
  if (unknown.length) {
    invalid(`configuration: unknown field "${unknown[0]}" (allowed: room_id, homeserver)`);
  }
  const { room_id, homeserver = "https://matrix.org" } = raw;
  if (typeof room_id !== "string" || !/^[!#][^:]+:.+$/.test(room_id)) {
    invalid(
      `configuration.room_id: expected a room id or alias like "!abc:example.org", got ${
        JSON.stringify(room_id ?? null)
      }`,
    );
  }
  if (typeof homeserver !== "string" || !/^https?:\/\/[^\s/]+/.test(homeserver)) {
    invalid(`configuration.homeserver: expected an http(s) URL, got ${JSON.stringify(homeserver)}`);
  }
  return { room_id, homeserver };
}

function find(id: string): Room {
  const room = rooms.get(id);
  if (!room) throw new RpcError(Code.NOT_FOUND, `no room call "${id}" on this module`);
  return room;
}

/** Receives and sends WebRTC H.264 + Opus, nothing else. */
function check(req: ConnectEntitiesRequest) {
  const receiving = req.role === ConnectionRole.RECEIVER;
  const room = find(receiving ? req.targetEntityId : req.sourceEntityId);
  if (!FORMATS.some((f) => formatName(f) === formatName(req.format))) {
    throw new RpcError(
      Code.FAILED_PRECONDITION,
      `room call "${room.id}" ${receiving ? "accepts" : "sends"} only ${
        FORMATS.map(formatName).join(" and ")
      }, not ${formatName(req.format)}`,
    );
  }
}

/** Reports the call starting or ending when the room's first flow starts or last one stops. */
function updateCalls() {
  for (const room of rooms.values()) {
    const inCall = flows.isActive(room.id);
    if (inCall && !room.callStartedAt) {
      room.callStartedAt = new Date();
      void mod.events.report("call.started", {
        entityId: room.id,
        message: `call started in ${room.config.room_id}`,
      });
    } else if (!inCall && room.callStartedAt) {
      const seconds = Math.round((Date.now() - room.callStartedAt.getTime()) / 1000);
      room.callStartedAt = undefined;
      void mod.events.report("call.ended", {
        entityId: room.id,
        message: `call in ${room.config.room_id} ended after ${seconds} s`,
        data: { seconds },
      });
    }
  }
}

const flows = new FlowTable({
  check,
  // WebRTC links are pulled through WHEP: as a sender the room serves a WHEP endpoint; as
  // a receiver it fetches from the sender's.
  address: (req) =>
    req.role === ConnectionRole.SENDER
      ? `http://127.0.0.1:8448/${req.sourceEntityId}/${req.connectionId}/whep`
      : "",
  latencyMs: 80,
  onChange: (status) => {
    updateCalls();
    void mod.events.status({ flows: [status] });
  },
});

function statusOf(room: Room) {
  const inCall = flows.isActive(room.id);
  return {
    entityId: room.id,
    state: inCall ? EntityState.ACTIVE : EntityState.READY,
    message: inCall ? `in a call in ${room.config.room_id}` : `idle in ${room.config.room_id}`,
    metrics: {
      participants: inCall ? 2 : 1,
      call_seconds: room.callStartedAt
        ? Math.floor((Date.now() - room.callStartedAt.getTime()) / 1000)
        : 0,
    },
  };
}

function toEntity(room: Room) {
  return {
    id: room.id,
    entityType: ENTITY_TYPE,
    kind: EntityKind.ENDPOINT,
    module: mod.env.moduleName || "matrix-call",
    name: room.name,
    state: statusOf(room).state,
    configuration: room.config,
    origin: EntityOrigin.CREATED,
    status: statusOf(room),
    createdAt: timestampFromDate(room.createdAt),
    updatedAt: timestampFromDate(room.updatedAt),
  };
}

const mod = await serveModule({
  info: { name: "matrix-call", version: "0.1.0", description: "Simulated Matrix room calls" },
  capabilities: [{
    entityType: ENTITY_TYPE,
    kind: EntityKind.ENDPOINT,
    description: "A video call in a Matrix room: WebRTC H.264 and Opus in both directions",
    inputs: FORMATS,
    outputs: FORMATS,
    configSchema: CONFIG_SCHEMA,
  }],
  entity: {
    createEntity: (req) => {
      if (req.entityType !== ENTITY_TYPE) {
        invalid(`unknown entity type "${req.entityType}"; this module provides: ${ENTITY_TYPE}`);
      }
      if (!req.entityId) invalid("entity_id is required");
      const config = parseConfig(req.configuration);
      const existing = rooms.get(req.entityId);
      if (existing) return { entity: toEntity(existing) }; // Same id again: the same entity.
      const now = new Date();
      const room: Room = {
        id: req.entityId,
        name: req.name,
        config,
        createdAt: now,
        updatedAt: now,
      };
      rooms.set(room.id, room);
      return { entity: toEntity(room) };
    },
    configureEntity: (req) => {
      const room = find(req.entityId);
      room.config = parseConfig(req.configuration);
      room.name = req.name || room.name; // A rename through the API arrives here.
      room.updatedAt = new Date();
      return { entity: toEntity(room) };
    },
    getEntityStatus: (req) => ({ status: statusOf(find(req.entityId)) }),
    destroyEntity: (req) => {
      find(req.entityId);
      rooms.delete(req.entityId);
      flows.dropEntity(req.entityId);
      return {};
    },
    listEntities: () => ({ entities: [...rooms.values()].map(toEntity) }),
  },
  pipeline: flows.handlers(),
});
