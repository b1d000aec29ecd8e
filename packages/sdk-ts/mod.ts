/**
 * The Call Assistant module SDK for TypeScript (Deno).
 *
 * ```ts
 * import { EntityKind, MediaType, serveModule } from "@callassistant/sdk";
 *
 * const mod = await serveModule({
 *   info: { version: "1.0.0", description: "A camera" },
 *   capabilities: [{
 *     entityType: "video_source",
 *     kind: EntityKind.SOURCE,
 *     outputs: [{ mediaType: MediaType.VIDEO, protocol: "rtsp", codec: "h264" }],
 *   }],
 *   entity: {
 *     createEntity: (req) => ({ entity: { id: req.entityId, entityType: req.entityType } }),
 *   },
 * });
 * await mod.events.report("camera.started", { message: "ready" });
 * ```
 *
 * @module
 */
export {
  type ConfigureContext,
  type EntityCapabilityInit,
  type EntityHandlers,
  type Health,
  type ModuleDefinition,
  type ModuleHandle,
  type ModuleHandlers,
  type PipelineHandlers,
  SDK_VERSION,
  serveModule,
  type ServeOptions,
} from "./module.ts";
export {
  type CommandHandler,
  ConnectReportTransport,
  type ConnectTransportOptions,
} from "./connect_transport.ts";
export {
  type EventOptions,
  type EventReport,
  EventReporter,
  type EventReporterOptions,
  type MediaReport,
  type MetricSample,
  type MetricsReport,
  type ReportTransport,
  type SeverityLevel,
  type StatusReport,
  UnaryReportTransport,
  type UnaryTransportOptions,
} from "./events.ts";
export { type EnvSource, type ModuleEnv, ModuleEnvError, readModuleEnv } from "./env.ts";
export { type EntityEntry, EntityTable, type EntityTableOptions } from "./entity_table.ts";
export { FlowMeters, type FlowMetersOptions, MEDIA_REPORT_EVERY_MS } from "./flow_meters.ts";
export { LatencySource, MediaMeter, type MediaMeterOptions, MediaSide } from "./media_meter.ts";
export {
  type ConnectionSide,
  FlowTable,
  type FlowTableOptions,
  formatName,
  PRESETS,
  resolveQuality,
  type SimulatedFlow,
  simulatedMetrics,
} from "./pipeline.ts";
/** The event type a module reports when the entities it discovered on its own changed. */
export { ENTITIES_CHANGED_EVENT } from "@callassistant/protocol";
export { stdinIsPipe } from "./process.ts";
export { type LogLevel, ModuleLogger } from "./log.ts";
export {
  currentTraceId,
  currentTraceparent,
  parseTraceparent,
  type TraceContext,
} from "@callassistant/rpc";

// What handlers need, so a module imports from one place.
export { Code, RpcError } from "@callassistant/rpc";
// What a module's own tests need to call it over gRPC as the orchestrator does.
export { type Client, type ClientOptions, createClient } from "@callassistant/rpc";
export { EntityService, ModuleService, PipelineService } from "@callassistant/protocol";
export type { CallContext, ServiceImpl } from "@callassistant/rpc";
export type { JsonObject, JsonValue } from "@bufbuild/protobuf";
export { EntityKind, MediaType } from "@callassistant/protocol";
export {
  ConnectionRole,
  EntityOrigin,
  EntityState,
  FlowState,
  HealthState,
  MetricKind,
  QualityPreset,
  Severity,
} from "@callassistant/protocol";
export type {
  Connection,
  Entity,
  EntityStatus,
  FlowStatus,
  MediaStats,
  ProbedFormats,
  QualityProfile,
} from "@callassistant/protocol";
export type { ConnectEntitiesRequest } from "@callassistant/protocol";
export type { MediaFormat } from "@callassistant/protocol";
export {
  durationFromMs,
  timestampDate,
  timestampFromDate,
  timestampFromMs,
  timestampNow,
} from "@bufbuild/protobuf/wkt";
