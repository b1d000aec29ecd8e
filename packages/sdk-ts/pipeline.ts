/**
 * A module's side of flows, for modules that simulate media (and a starting point for
 * real ones): the connections the orchestrator made, the flows started on them with
 * their quality, and metrics (bitrate, fps, latency) that follow the quality. It gives
 * the six PipelineService handlers; the module says what is specific to it.
 *
 * ```ts
 * const flows = new FlowTable({
 *   check: (req) => { ... throw new RpcError(Code.FAILED_PRECONDITION, "...") },
 *   address: (req) => `rtsp://127.0.0.1:8554/${req.connectionId}`,
 *   latencyMs: 40,
 *   onChange: (status) => mod.events.status({ flows: [status] }),
 * });
 * await serveModule({ ..., pipeline: flows.handlers() });
 * ```
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import type { ConnectEntitiesRequest } from "@callassistant/protocol";
import { type MediaFormat, type MediaFormatSchema, MediaType } from "@callassistant/protocol";
import {
  type Connection,
  ConnectionRole,
  ConnectionSchema,
  FlowState,
  type FlowStatus,
  FlowStatusSchema,
  QualityPreset,
  type QualityProfile,
  QualityProfileSchema,
} from "@callassistant/protocol";
import { Code, RpcError } from "@callassistant/rpc";
import type { PipelineHandlers } from "./module.ts";

/** One side of a connection, as this module set it up. */
export interface ConnectionSide {
  connection: Connection;
  role: ConnectionRole;
  /** The entity of this module on the connection. */
  entityId: string;
}

/** A flow as this module sees it. */
export interface SimulatedFlow {
  id: string;
  running: boolean;
  /** The quality applied, with the preset's values filled in. */
  quality: QualityProfile;
  startedAt?: Date;
  message: string;
}

/** What differs between modules. */
export interface FlowTableOptions {
  /**
   * Checks that the module's entity can play the requested role for the format; throws
   * NOT_FOUND for an unknown entity, FAILED_PRECONDITION for a format or role it cannot
   * handle. Without it, the table checks by `receives`, `sends` and `has`.
   */
  check?(request: ConnectEntitiesRequest): void;
  /** The formats this module's entities receive (the default check: as RECEIVER). */
  receives?: MessageInitShape<typeof MediaFormatSchema>[];
  /** The formats this module's entities send (the default check: as SENDER). */
  sends?: MessageInitShape<typeof MediaFormatSchema>[];
  /** True when the entity exists (the default check: NOT_FOUND otherwise). */
  has?(entityId: string): boolean;
  /**
   * The URL this module serves the connection's media on, or "" when it does not serve it
   * (see `ConnectEntitiesResponse.address` for the form per protocol). Asked of a RECEIVER
   * (push protocols such as rtp: the receiver listens) and of a SENDER given no address
   * (pull protocols, rtsp, hls, webrtc through WHEP, mjpeg: the sender serves and the
   * receiver, called again with that URL, fetches it). Without it: "".
   */
  address?(request: ConnectEntitiesRequest): string;
  /** The latency this module adds, in ms (reported as `latency_ms`). */
  latencyMs?: number;
  /** Told after a flow starts, stops or changes quality (to send ReportStatus). */
  onChange?(status: FlowStatus): void;
}

type QualityValues = Required<Omit<MessageInitShape<typeof QualityProfileSchema>, "$typeName">>;

/** What each preset means (AUTO and unset start at MEDIUM). */
export const PRESETS: Record<QualityPreset, Omit<QualityValues, "preset">> = {
  [QualityPreset.UNSPECIFIED]: {
    maxBitrateKbps: 1500,
    width: 1280,
    height: 720,
    framerate: 30,
    audioBitrateKbps: 64,
  },
  [QualityPreset.LOW]: {
    maxBitrateKbps: 500,
    width: 640,
    height: 360,
    framerate: 15,
    audioBitrateKbps: 32,
  },
  [QualityPreset.MEDIUM]: {
    maxBitrateKbps: 1500,
    width: 1280,
    height: 720,
    framerate: 30,
    audioBitrateKbps: 64,
  },
  [QualityPreset.HIGH]: {
    maxBitrateKbps: 4000,
    width: 1920,
    height: 1080,
    framerate: 30,
    audioBitrateKbps: 128,
  },
  [QualityPreset.AUTO]: {
    maxBitrateKbps: 1500,
    width: 1280,
    height: 720,
    framerate: 30,
    audioBitrateKbps: 64,
  },
};

/** The quality with every zero field taken from its preset. */
export function resolveQuality(q: QualityProfile | undefined): QualityProfile {
  const preset = q?.preset ?? QualityPreset.UNSPECIFIED;
  const base = PRESETS[preset] ?? PRESETS[QualityPreset.UNSPECIFIED];
  return create(QualityProfileSchema, {
    preset,
    maxBitrateKbps: q?.maxBitrateKbps || base.maxBitrateKbps,
    width: q?.width || base.width,
    height: q?.height || base.height,
    framerate: q?.framerate || base.framerate,
    audioBitrateKbps: q?.audioBitrateKbps || base.audioBitrateKbps,
  });
}

/** Simulated measurements of a running flow at a quality: within a few percent of it. */
export function simulatedMetrics(
  q: QualityProfile,
  latencyMs: number,
  media: { video: boolean; audio: boolean },
): Record<string, number> {
  const jitter = (spread: number) => 1 + (Math.random() - 0.5) * spread;
  const round = (n: number) => Math.round(n * 10) / 10;
  const metrics: Record<string, number> = { latency_ms: round(latencyMs * jitter(0.1)) };
  if (media.video) {
    metrics.bitrate_kbps = round(q.maxBitrateKbps * (0.92 + Math.random() * 0.08));
    metrics.fps = round(q.framerate * jitter(0.04));
    metrics.width = q.width;
    metrics.height = q.height;
  }
  if (media.audio) metrics.audio_bitrate_kbps = q.audioBitrateKbps;
  return metrics;
}

/** "video/rtsp/h264": a format for messages and comparisons. */
export function formatName(
  f: { mediaType?: MediaType; protocol?: string; codec?: string } | undefined,
): string {
  if (!f) return "(none)";
  const media = f.mediaType === MediaType.VIDEO
    ? "video"
    : f.mediaType === MediaType.AUDIO
    ? "audio"
    : `media-${f.mediaType ?? 0}`;
  return `${media}/${(f.protocol ?? "").toLowerCase()}/${(f.codec ?? "").toLowerCase()}`;
}

/** The connections and flows of one module, and the PipelineService over them. */
export class FlowTable {
  readonly connections = new Map<string, ConnectionSide>();
  readonly flows = new Map<string, SimulatedFlow>();

  readonly #options: FlowTableOptions;

  constructor(options: FlowTableOptions) {
    this.#options = options;
  }

  /** Connections of a flow on this module. */
  connectionsOf(flowId: string): ConnectionSide[] {
    return [...this.connections.values()].filter((c) => c.connection.flowId === flowId);
  }

  /** True when the entity is on a running flow. */
  isActive(entityId: string): boolean {
    return [...this.connections.values()].some((c) =>
      c.entityId === entityId && this.flows.get(c.connection.flowId)?.running
    );
  }

  /** Forgets every connection of an entity (when it is destroyed). */
  dropEntity(entityId: string): void {
    for (const [id, side] of this.connections) {
      if (side.entityId === entityId) this.connections.delete(id);
    }
  }

  /** The live status of a flow on this module; NOT_FOUND when it has no part in it. */
  status(flowId: string): FlowStatus {
    const flow = this.flows.get(flowId);
    const sides = this.connectionsOf(flowId);
    if (!flow && sides.length === 0) {
      throw new RpcError(Code.NOT_FOUND, `flow "${flowId}" has no connection on this module`);
    }
    const formats = sides.map((s) => s.connection.format).filter((f): f is MediaFormat => !!f);
    const media = {
      video: formats.some((f) => f.mediaType === MediaType.VIDEO),
      audio: formats.some((f) => f.mediaType === MediaType.AUDIO),
    };
    const quality = flow?.quality ?? resolveQuality(undefined);
    const running = flow?.running ?? false;
    return create(FlowStatusSchema, {
      flowId,
      state: running ? FlowState.ACTIVE : FlowState.STOPPED,
      message: flow?.message ?? "connected, not started",
      metrics: running ? simulatedMetrics(quality, this.#options.latencyMs ?? 0, media) : {},
      quality,
    });
  }

  #changed(flowId: string): void {
    if (!this.#options.onChange) return;
    // After the answer has gone out.
    setTimeout(() => {
      try {
        this.#options.onChange?.(this.status(flowId));
      } catch {
        // The flow is gone meanwhile.
      }
    }, 0);
  }

  /** The default check: the entity exists and takes the format in its role. */
  #check(req: ConnectEntitiesRequest): void {
    const receiving = req.role === ConnectionRole.RECEIVER;
    const entityId = receiving ? req.targetEntityId : req.sourceEntityId;
    if (this.#options.has && !this.#options.has(entityId)) {
      throw new RpcError(Code.NOT_FOUND, `no entity "${entityId}" on this module`);
    }
    const formats = (receiving ? this.#options.receives : this.#options.sends) ?? [];
    const wanted = formatName(req.format);
    if (!formats.some((f) => formatName(f) === wanted)) {
      const what = formats.length
        ? `${receiving ? "receives" : "sends"} ${formats.map((f) => formatName(f)).join(", ")}`
        : `does not ${receiving ? "receive" : "send"} media`;
      throw new RpcError(Code.FAILED_PRECONDITION, `"${entityId}" ${what}, not ${wanted}`);
    }
  }

  /** The six PipelineService handlers. */
  handlers(): PipelineHandlers {
    return {
      connectEntities: (req) => {
        if (!req.connectionId || !req.flowId) {
          throw new RpcError(Code.INVALID_ARGUMENT, "connection_id and flow_id are required");
        }
        if (!req.format) throw new RpcError(Code.INVALID_ARGUMENT, "format is required");
        const role = req.role;
        if (role !== ConnectionRole.RECEIVER && role !== ConnectionRole.SENDER) {
          throw new RpcError(Code.INVALID_ARGUMENT, "role must be RECEIVER or SENDER");
        }
        const key = `${req.connectionId}/${role}`;
        const known = this.connections.get(key)?.connection;
        if (
          known && (known.flowId !== req.flowId || known.sourceEntityId !== req.sourceEntityId ||
            known.targetEntityId !== req.targetEntityId ||
            formatName(known.format) !== formatName(req.format))
        ) {
          throw new RpcError(
            Code.ALREADY_EXISTS,
            `connection "${req.connectionId}" already exists here for flow "${known.flowId}", ` +
              `${known.sourceEntityId} -> ${known.targetEntityId} in ${formatName(known.format)}`,
          );
        }
        if (this.#options.check) this.#options.check(req);
        else this.#check(req);
        // Given an address (a sender, or a receiver told where a pulling link fetches from)
        // the module uses it; otherwise it says where it serves, if it does.
        const address = req.address || (this.#options.address?.(req) ?? "");
        const connection = create(ConnectionSchema, {
          id: req.connectionId,
          flowId: req.flowId,
          sourceEntityId: req.sourceEntityId,
          targetEntityId: req.targetEntityId,
          format: req.format,
          address,
        });
        const entityId = role === ConnectionRole.RECEIVER ? req.targetEntityId : req.sourceEntityId;
        // The same connection again (a re-established flow, or a receiver getting the address
        // of a pulling link) replaces the old side.
        this.connections.set(key, { connection, role, entityId });
        return { address, connection };
      },

      disconnectEntities: (req) => {
        for (const key of [...this.connections.keys()]) {
          if (key.startsWith(`${req.connectionId}/`)) this.connections.delete(key);
        }
        if (this.connectionsOf(req.flowId).length === 0) this.flows.delete(req.flowId);
        return {};
      },

      startFlow: (req) => {
        const sides = this.connectionsOf(req.flowId);
        const ids = new Set(sides.map((s) => s.connection.id));
        const unknown = req.connectionIds.filter((id) => !ids.has(id));
        if (sides.length === 0 || unknown.length > 0) {
          throw new RpcError(
            Code.FAILED_PRECONDITION,
            `flow "${req.flowId}": unknown connection(s) ${
              (unknown.length ? unknown : req.connectionIds).join(", ") || "(none given)"
            } on this module: connect them first`,
          );
        }
        const flow: SimulatedFlow = {
          id: req.flowId,
          running: true,
          quality: resolveQuality(req.quality),
          startedAt: new Date(),
          message: `carrying ${sides.length} connection(s)`,
        };
        this.flows.set(req.flowId, flow);
        this.#changed(req.flowId);
        return { status: this.status(req.flowId) };
      },

      stopFlow: (req) => {
        const flow = this.flows.get(req.flowId);
        if (flow) {
          flow.running = false;
          flow.message = "stopped";
          this.#changed(req.flowId);
        }
        return {};
      },

      getFlowStatus: (req) => ({ status: this.status(req.flowId) }),

      adjustQuality: (req) => {
        const flow = this.flows.get(req.flowId);
        if (!flow) throw new RpcError(Code.NOT_FOUND, `flow "${req.flowId}" is not started here`);
        flow.quality = resolveQuality(req.quality);
        this.#changed(req.flowId);
        return { quality: flow.quality };
      },
    };
  }
}
