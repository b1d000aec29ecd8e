/**
 * media-converter: a simulated media bridge (in the spirit of go2rtc). Each converter
 * entity type declares the transforms it performs, input format -> output format, with
 * a cost the orchestrator's path-finder adds up (cpu + latency_ms / 10 + quality_loss *
 * 10). The orchestrator creates converter entities for flows, connects their input
 * (RECEIVER side: the converter pulls from the sender's URL) and output (SENDER side:
 * answered with the URL it serves on), and starts, stops and adjusts the flows. No media is converted; the module
 * keeps the connections, the running flows and simulated metrics that follow quality.
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

const { VIDEO, AUDIO } = MediaType;
const f = (mediaType: MediaType, protocol: string, codec: string) => ({
  mediaType,
  protocol,
  codec,
});

/** Remuxing is cheap; transcoding audio costs CPU and a little quality; HLS adds latency. */
const TYPES = {
  rtsp_to_webrtc: {
    description: "Re-packages RTSP streams for WebRTC (H.264 passthrough, Opus passthrough)",
    transforms: [
      {
        input: f(VIDEO, "rtsp", "h264"),
        output: f(VIDEO, "webrtc", "h264"),
        cost: { cpu: 1, latencyMs: 30 },
      },
      {
        input: f(AUDIO, "rtsp", "opus"),
        output: f(AUDIO, "webrtc", "opus"),
        cost: { cpu: 0.5, latencyMs: 10 },
      },
      // A one-step transcode exists, but transcode-then-remux (below) is cheaper.
      {
        input: f(AUDIO, "rtsp", "aac"),
        output: f(AUDIO, "webrtc", "opus"),
        cost: { cpu: 4, latencyMs: 40, qualityLoss: 0.1 },
      },
    ],
  },
  rtsp_to_hls: {
    description: "Segments RTSP streams into HLS for cast devices",
    transforms: [
      {
        input: f(VIDEO, "rtsp", "h264"),
        output: f(VIDEO, "hls", "h264"),
        cost: { cpu: 1, latencyMs: 500 },
      },
      {
        input: f(AUDIO, "rtsp", "aac"),
        output: f(AUDIO, "hls", "aac"),
        cost: { cpu: 0.5, latencyMs: 500 },
      },
    ],
  },
  webrtc_to_hls: {
    description: "Turns a WebRTC call's media into HLS for cast devices (Opus to AAC)",
    transforms: [
      {
        input: f(VIDEO, "webrtc", "h264"),
        output: f(VIDEO, "hls", "h264"),
        cost: { cpu: 1, latencyMs: 500 },
      },
      {
        input: f(AUDIO, "webrtc", "opus"),
        output: f(AUDIO, "hls", "aac"),
        cost: { cpu: 2, latencyMs: 520, qualityLoss: 0.05 },
      },
    ],
  },
  audio_transcoder: {
    description: "Transcodes audio between AAC and Opus, keeping the protocol",
    transforms: [
      {
        input: f(AUDIO, "rtsp", "aac"),
        output: f(AUDIO, "rtsp", "opus"),
        cost: { cpu: 2, latencyMs: 20, qualityLoss: 0.05 },
      },
      {
        input: f(AUDIO, "rtsp", "opus"),
        output: f(AUDIO, "rtsp", "aac"),
        cost: { cpu: 2, latencyMs: 20, qualityLoss: 0.05 },
      },
    ],
  },
};
type TypeName = keyof typeof TYPES;

/** Where each protocol is served (the ports of a typical go2rtc). */
/** Where the converter would serve each output protocol (the forms of the contract). */
const ENDPOINTS: Record<string, (path: string) => string> = {
  rtsp: (p) => `rtsp://127.0.0.1:8554/${p}`,
  webrtc: (p) => `http://127.0.0.1:8889/${p}/whep`,
  hls: (p) => `http://127.0.0.1:8890/${p}/index.m3u8`,
  mjpeg: (p) => `http://127.0.0.1:8890/${p}`,
};

interface Converter {
  id: string;
  type: TypeName;
  name: string;
  createdAt: Date;
}
const converters = new Map<string, Converter>();

function find(id: string): Converter {
  const c = converters.get(id);
  if (!c) throw new RpcError(Code.NOT_FOUND, `no converter "${id}" on this module`);
  return c;
}

/** A receiver must take the format as a transform input; a sender must emit it as an output. */
function check(req: ConnectEntitiesRequest) {
  const receiving = req.role === ConnectionRole.RECEIVER;
  const c = find(receiving ? req.targetEntityId : req.sourceEntityId);
  const side = receiving ? "input" : "output";
  const formats = TYPES[c.type].transforms.map((t) => formatName(t[side]));
  if (!formats.includes(formatName(req.format))) {
    throw new RpcError(
      Code.FAILED_PRECONDITION,
      `converter "${c.id}" (${c.type}) cannot ${receiving ? "accept" : "emit"} ${
        formatName(req.format)
      }; its ${side}s are ${[...new Set(formats)].join(", ")}`,
    );
  }
}

const flows = new FlowTable({
  check,
  // Every protocol here is pulled: the converter fetches its input from the sender's URL
  // (it serves nothing as a receiver) and serves its output at its own URL.
  address: (req) => {
    if (req.role === ConnectionRole.RECEIVER) return "";
    const protocol = req.format?.protocol ?? "rtsp";
    return (ENDPOINTS[protocol] ?? ((p: string) => `${protocol}://127.0.0.1/${p}`))(
      req.connectionId,
    );
  },
  latencyMs: 60,
  onChange: (status) => void mod.events.status({ flows: [status] }),
});

function toEntity(c: Converter) {
  return {
    id: c.id,
    entityType: c.type,
    kind: EntityKind.CONVERTER,
    module: mod.env.moduleName || "media-converter",
    name: c.name,
    state: flows.isActive(c.id) ? EntityState.ACTIVE : EntityState.READY,
    configuration: {},
    origin: EntityOrigin.FLOW,
    createdAt: timestampFromDate(c.createdAt),
    updatedAt: timestampFromDate(c.createdAt),
  };
}

function rejectConfiguration(configuration: JsonObject = {}) {
  const keys = Object.keys(configuration);
  if (keys.length) {
    throw new RpcError(
      Code.INVALID_ARGUMENT,
      `converters take no configuration (got "${keys[0]}")`,
    );
  }
}

const mod = await serveModule({
  info: { name: "media-converter", version: "0.1.0", description: "Simulated media bridge" },
  capabilities: Object.entries(TYPES).map(([entityType, t]) => ({
    entityType,
    kind: EntityKind.CONVERTER,
    description: t.description,
    transforms: t.transforms,
    configSchema: { type: "object", additionalProperties: false },
  })),
  entity: {
    createEntity: (req) => {
      if (!Object.hasOwn(TYPES, req.entityType)) {
        throw new RpcError(
          Code.INVALID_ARGUMENT,
          `unknown entity type "${req.entityType}"; this module provides: ${
            Object.keys(TYPES).join(", ")
          }`,
        );
      }
      if (!req.entityId) throw new RpcError(Code.INVALID_ARGUMENT, "entity_id is required");
      rejectConfiguration(req.configuration);
      const existing = converters.get(req.entityId);
      if (existing) return { entity: toEntity(existing) }; // Same id again: the same entity.
      const c = {
        id: req.entityId,
        type: req.entityType as TypeName,
        name: req.name,
        createdAt: new Date(),
      };
      converters.set(c.id, c);
      mod.logger.info("converter created", { entity_id: c.id, type: c.type });
      return { entity: toEntity(c) };
    },
    configureEntity: (req) => {
      const c = find(req.entityId);
      rejectConfiguration(req.configuration);
      c.name = req.name || c.name; // A rename through the API arrives here.
      return { entity: toEntity(c) };
    },
    getEntityStatus: (req) => {
      const c = find(req.entityId);
      const active = flows.isActive(c.id);
      const sides = [...flows.connections.values()].filter((s) => s.entityId === c.id);
      return {
        status: {
          entityId: c.id,
          state: active ? EntityState.ACTIVE : EntityState.READY,
          message: `${sides.length} connection side(s)`,
          metrics: { connections: sides.length },
        },
      };
    },
    destroyEntity: (req) => {
      find(req.entityId);
      converters.delete(req.entityId);
      flows.dropEntity(req.entityId);
      return {};
    },
    listEntities: () => ({ entities: [...converters.values()].map(toEntity) }),
  },
  pipeline: flows.handlers(),
});
