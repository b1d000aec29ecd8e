/**
 * test-camera: a simulated network camera. Provides `video_source` entities that
 * "publish" H.264 video and AAC audio over RTSP, with in-memory state and simulated
 * live metrics. As the sending end of flows it accepts only the SENDER side of a
 * connection in one of its two formats; its flow metrics follow the flow's quality.
 * No media is produced; it exists to exercise the orchestrator.
 */
import {
  Code,
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

const ENTITY_TYPE = "video_source";
const OUTPUTS = [
  { mediaType: MediaType.VIDEO, protocol: "rtsp", codec: "h264" },
  { mediaType: MediaType.AUDIO, protocol: "rtsp", codec: "aac" },
];
const RESOLUTIONS: Record<string, [number, number]> = {
  "640x360": [640, 360],
  "1280x720": [1280, 720],
  "1920x1080": [1920, 1080],
  "2560x1440": [2560, 1440],
  "3840x2160": [3840, 2160],
};
const FIELDS = ["url", "fps", "resolution"];
const CONFIG_SCHEMA: JsonObject = {
  type: "object",
  additionalProperties: false,
  properties: {
    url: { type: "string", description: "RTSP URL; default rtsp://127.0.0.1:8554/<entity id>" },
    fps: { type: "integer", minimum: 1, maximum: 60, default: 30 },
    resolution: { type: "string", enum: Object.keys(RESOLUTIONS), default: "1280x720" },
  },
};

interface CameraConfig extends JsonObject {
  url: string;
  fps: number;
  resolution: string;
}
interface Camera {
  id: string;
  name: string;
  config: CameraConfig;
  createdAt: Date;
  updatedAt: Date;
}

const cameras = new Map<string, Camera>();

function invalid(message: string): never {
  throw new RpcError(Code.INVALID_ARGUMENT, message);
}

function parseConfig(id: string, raw: JsonObject = {}): CameraConfig {
  const unknown = Object.keys(raw).filter((key) => !FIELDS.includes(key));
  if (unknown.length) {
    invalid(`configuration: unknown field "${unknown[0]}" (allowed: url, fps, resolution)`);
  }
  const { url = `rtsp://127.0.0.1:8554/${id}`, fps = 30, resolution = "1280x720" } = raw;
  if (typeof url !== "string" || !/^rtsps?:\/\/[^\s/]+/.test(url)) {
    invalid(`configuration.url: expected an rtsp:// URL, got ${JSON.stringify(url)}`);
  }
  if (typeof fps !== "number" || !Number.isInteger(fps) || fps < 1 || fps > 60) {
    invalid(`configuration.fps: expected an integer from 1 to 60, got ${JSON.stringify(fps)}`);
  }
  if (typeof resolution !== "string" || !Object.hasOwn(RESOLUTIONS, resolution)) {
    const allowed = Object.keys(RESOLUTIONS).join(", ");
    invalid(
      `configuration.resolution: expected one of ${allowed}, got ${JSON.stringify(resolution)}`,
    );
  }
  return { url, fps, resolution };
}

function find(id: string): Camera {
  const camera = cameras.get(id);
  if (!camera) throw new RpcError(Code.NOT_FOUND, `no entity "${id}" on this camera module`);
  return camera;
}

/** Simulated live status: the configured rate with a little jitter, H.264 at ~0.07 bit/pixel. */
function statusOf(camera: Camera) {
  const [width, height] = RESOLUTIONS[camera.config.resolution];
  const jitter = 1 + (Math.random() - 0.5) * 0.04;
  const uptime = (Date.now() - camera.updatedAt.getTime()) / 1000;
  const fps = Math.round(camera.config.fps * jitter * 100) / 100;
  return {
    entityId: camera.id,
    state: flows.isActive(camera.id) ? EntityState.ACTIVE : EntityState.READY,
    message: `publishing ${camera.config.resolution}@${camera.config.fps} on ${camera.config.url}`,
    metrics: {
      fps,
      bitrate_kbps: Math.round((width * height * fps * 0.07) / 1000),
      audio_bitrate_kbps: 128,
      width,
      height,
      uptime_seconds: Math.floor(uptime),
      frames_sent: Math.floor(uptime * camera.config.fps),
    },
  };
}

function toEntity(camera: Camera) {
  return {
    id: camera.id,
    entityType: ENTITY_TYPE,
    kind: EntityKind.SOURCE,
    module: mod.env.moduleName || "test-camera",
    name: camera.name,
    state: flows.isActive(camera.id) ? EntityState.ACTIVE : EntityState.READY,
    configuration: camera.config,
    origin: EntityOrigin.CREATED,
    status: statusOf(camera),
    createdAt: timestampFromDate(camera.createdAt),
    updatedAt: timestampFromDate(camera.updatedAt),
  };
}

// The camera's side of flows: it only sends, from its RTSP server.
const flows = new FlowTable({
  check(req) {
    const camera = find(req.sourceEntityId);
    if (req.role !== ConnectionRole.SENDER) {
      throw new RpcError(
        Code.FAILED_PRECONDITION,
        `camera "${camera.id}" only sends media; it cannot receive ${formatName(req.format)}`,
      );
    }
    if (!OUTPUTS.some((f) => formatName(f) === formatName(req.format))) {
      throw new RpcError(
        Code.FAILED_PRECONDITION,
        `camera "${camera.id}" sends ${OUTPUTS.map(formatName).join(" and ")}, not ${
          formatName(req.format)
        }`,
      );
    }
  },
  // The camera serves RTSP: the receiver pulls from the camera's URL.
  address: (req) => find(req.sourceEntityId).config.url,
  latencyMs: 20,
  onChange: (status) => void mod.events.status({ flows: [status] }),
});

const mod = await serveModule({
  info: { name: "test-camera", version: "0.1.0", description: "Simulated network camera" },
  capabilities: [{
    entityType: ENTITY_TYPE,
    kind: EntityKind.SOURCE,
    description: "A simulated camera publishing H.264 video and AAC audio over RTSP",
    outputs: OUTPUTS,
    configSchema: CONFIG_SCHEMA,
  }],
  entity: {
    createEntity: (req) => {
      if (req.entityType !== ENTITY_TYPE) {
        invalid(`unknown entity type "${req.entityType}"; this module provides: ${ENTITY_TYPE}`);
      }
      if (!req.entityId) invalid("entity_id is required");
      const config = parseConfig(req.entityId, req.configuration);
      const existing = cameras.get(req.entityId);
      if (existing) return { entity: toEntity(existing) }; // Idempotent: same id, same entity.
      const now = new Date();
      const camera = { id: req.entityId, name: req.name, config, createdAt: now, updatedAt: now };
      cameras.set(camera.id, camera);
      // The line carries the trace id of the request that created it (SDK logger).
      mod.logger.info("camera created", { entity_id: camera.id, url: config.url });
      void mod.events.report("entity.created", {
        entityId: camera.id,
        message: `camera "${camera.name || camera.id}" publishing on ${config.url}`,
        data: { entityType: ENTITY_TYPE, ...config },
      });
      return { entity: toEntity(camera) };
    },
    configureEntity: (req) => {
      const camera = find(req.entityId);
      camera.config = parseConfig(camera.id, req.configuration);
      camera.name = req.name || camera.name; // A rename through the API arrives here.
      camera.updatedAt = new Date();
      return { entity: toEntity(camera) };
    },
    getEntityStatus: (req) => ({ status: statusOf(find(req.entityId)) }),
    destroyEntity: (req) => {
      cameras.delete(find(req.entityId).id);
      flows.dropEntity(req.entityId);
      void mod.events.report("entity.destroyed", { entityId: req.entityId });
      return {};
    },
    listEntities: () => ({ entities: [...cameras.values()].map(toEntity) }),
  },
  pipeline: flows.handlers(),
});
