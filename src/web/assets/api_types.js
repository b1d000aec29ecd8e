// The JSON the gateway answers, as the dashboard reads it: the protos' messages in proto3
// JSON (camelCase names, enums as their value names, 64-bit integers, Timestamps and
// Durations as strings). The gateway writes every scalar, list and map even at its default
// (`alwaysEmitImplicit`), so only message fields and proto3 `optional` fields may be
// missing. Types only: the other files name them in JSDoc `@import` comments, which the
// browser never loads, so src/web/assets.ts does not serve this file.

/** MediaFormat. @typedef {{ mediaType: string, protocol: string, codec: string }} MediaFormat */

/**
 * A JSON Schema as a module declares it (module or entity configuration): the parts the
 * forms read. It comes from a module, so schema_form.js still checks each part's type.
 * @typedef {{
 *   type?: string | string[],
 *   enum?: unknown[],
 *   properties?: Record<string, JsonSchema>,
 *   required?: string[],
 *   title?: string,
 *   description?: string,
 *   minimum?: number,
 *   maximum?: number,
 *   default?: unknown,
 *   writeOnly?: boolean,
 *   format?: string,
 * }} JsonSchema
 */

/**
 * EntityCapability: an entity type a module offers.
 * @typedef {{
 *   entityType: string,
 *   kind: string,
 *   inputs: MediaFormat[],
 *   outputs: MediaFormat[],
 *   transforms: { input?: MediaFormat, output?: MediaFormat,
 *     cost?: { cpu: number, latencyMs: number, qualityLoss: number } }[],
 *   description: string,
 *   configSchema?: JsonSchema,
 * }} EntityCapability
 */

/**
 * ModuleResources: CPU and memory of a module's process tree.
 * @typedef {{
 *   cpuSeconds: number,
 *   cpuCores: number,
 *   rssBytes: string,
 *   processes: number,
 *   sampledAt?: string,
 *   memoryLimitBytes: string,
 *   overLimitSince?: string,
 * }} ModuleResources
 */

/**
 * ModuleRun: one run of a module's process.
 * @typedef {{
 *   restart: number,
 *   pid: number,
 *   startedAt?: string,
 *   exitedAt?: string,
 *   exitCode?: number,
 *   signal: string,
 *   reason: string,
 * }} ModuleRun
 */

/**
 * ModuleReplica: another instance of a module.
 * @typedef {{
 *   index: number,
 *   state: string,
 *   pid: number,
 *   grpcPort: number,
 *   restarts: number,
 *   lastError: string,
 *   startedAt?: string,
 *   resources?: ModuleResources,
 * }} ModuleReplica
 */

/**
 * Module (GET /v1/modules, /v1/modules/{name}).
 * @typedef {{
 *   name: string,
 *   version: string,
 *   description: string,
 *   state: string,
 *   health?: { state: string, message: string, checkedAt?: string, consecutiveFailures: number },
 *   pid: number,
 *   grpcPort: number,
 *   restarts: number,
 *   lastError: string,
 *   capabilities: EntityCapability[],
 *   manifestPath: string,
 *   dependencies: string[],
 *   address: string,
 *   startedAt?: string,
 *   stateChangedAt?: string,
 *   exitCode?: number,
 *   exitSignal: string,
 *   history: ModuleRun[],
 *   lastStderr: string[],
 *   configSchema?: JsonSchema,
 *   replicas: ModuleReplica[],
 *   resources?: ModuleResources,
 * }} Module
 */

/**
 * ConfigRevision: one stored configuration of a module.
 * @typedef {{
 *   module: string,
 *   revision: string,
 *   config?: Record<string, unknown>,
 *   updatedAt?: string,
 *   updatedBy: string,
 * }} ConfigRevision
 */

/**
 * Entity (GET /v1/entities).
 * @typedef {{
 *   id: string,
 *   entityType: string,
 *   kind: string,
 *   module: string,
 *   name: string,
 *   state: string,
 *   configuration?: Record<string, unknown>,
 *   origin: string,
 *   status?: { entityId: string, state: string, message: string, metrics: Record<string, number> },
 *   createdAt?: string,
 *   updatedAt?: string,
 * }} Entity
 */

/**
 * PathHop: one entity on a media path.
 * @typedef {{
 *   mediaType: string,
 *   entityId: string,
 *   entityType: string,
 *   module: string,
 *   kind: string,
 *   input?: MediaFormat,
 *   output?: MediaFormat,
 *   cost: number,
 * }} PathHop
 */

/**
 * Connection: one media link of a flow.
 * @typedef {{
 *   id: string,
 *   flowId: string,
 *   sourceEntityId: string,
 *   targetEntityId: string,
 *   format?: MediaFormat,
 *   address: string,
 * }} Connection
 */

/**
 * MediaStats: what a module measured of one side of a connection.
 * @typedef {{
 *   connectionId: string,
 *   side: string,
 *   frames: string,
 *   fps: number,
 *   bitrateKbps: number,
 *   stalls: number,
 *   latencyMs: number,
 * }} MediaStats
 */

/**
 * FlowStatus: what one module reports of a flow.
 * @typedef {{
 *   flowId: string,
 *   state: string,
 *   message: string,
 *   metrics: Record<string, number>,
 *   module: string,
 *   media: MediaStats[],
 * }} FlowStatus
 */

/**
 * HopHealth: the watchdog's judgement of one hop.
 * @typedef {{
 *   connectionId: string,
 *   side: string,
 *   module: string,
 *   entityId: string,
 *   state: string,
 *   message: string,
 *   since?: string,
 *   stats?: MediaStats,
 * }} HopHealth
 */

/**
 * FlowHealth: the watchdog's view of a flow.
 * @typedef {{
 *   watched: boolean,
 *   hops: HopHealth[],
 *   latencyMs: number,
 *   timeToFirstFrame?: string,
 *   stalls: number,
 *   reestablishments: number,
 *   reroutes: number,
 * }} FlowHealth
 */

/**
 * Flow (GET /v1/flows).
 * @typedef {{
 *   id: string,
 *   sourceEntityId: string,
 *   targetEntityId: string,
 *   state: string,
 *   message: string,
 *   path: PathHop[],
 *   connections: Connection[],
 *   quality?: { preset: string },
 *   statuses: FlowStatus[],
 *   health?: FlowHealth,
 * }} Flow
 */

/**
 * Event (the event stream's `event` items).
 * @typedef {{
 *   id: string,
 *   time?: string,
 *   type: string,
 *   severity: string,
 *   module: string,
 *   entityId: string,
 *   flowId: string,
 *   message: string,
 * }} Event
 */

/**
 * EventGap: events the stream cannot send.
 * @typedef {{ fromId: string, toId: string, reason: string }} EventGap
 */

export {};
