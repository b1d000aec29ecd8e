/**
 * Flows: media from a source entity to a target entity through converters.
 *
 * Building a flow: find the cheapest path per media type (pathfinder.ts), create the
 * converter entities it needs (origin FLOW), connect each hop with `ConnectEntities`
 * (the receiving side first, which answers with the address it accepts media on, then
 * the sending side with that address), then `StartFlow` on every module involved,
 * downstream first. A failure undoes everything made so far, in reverse.
 *
 * States: CREATING -> STARTING -> ACTIVE; STOPPED on request; DEGRADED while part of the
 * path is down and the flow is being re-established or re-routed; FAILED when it could
 * not be built or recovered. Every change is a `flow.state_changed` event.
 *
 * Recovery: when a module on a path stops running, its entities go OFFLINE and its flows
 * DEGRADED, and the flow is re-routed at once when other running converters can serve;
 * otherwise it waits. When a module becomes READY its desired entities are recreated
 * (same ids) and every flow that should run and is not established is rebuilt, reusing
 * its converter entities where the path is unchanged.
 *
 * Every mutation (flows and entities) runs on one serial queue; reads do not wait.
 */
import { clone, create, equals, fromJson, type JsonValue, toJson } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ReportStatusRequest } from "../gen/callassistant/v1/event_pb.ts";
import { EntityKind } from "../gen/callassistant/v1/media_pb.ts";
import {
  type Connection,
  ConnectionRole,
  ConnectionSchema,
  EntityOrigin,
  EntityState,
  type Flow,
  FlowSchema,
  FlowState,
  type FlowStatus,
  FlowStatusSchema,
  type MediaPath,
  MediaPathSchema,
  type ModuleState,
  QualityPreset,
  type QualityProfile,
  QualityProfileSchema,
  Severity,
} from "../gen/callassistant/v1/resources_pb.ts";
import type { EventBus } from "../events/bus.ts";
import type { Logger } from "../log/logger.ts";
import { Code, RpcError } from "../rpc/errors.ts";
import type { Collection } from "../store/store.ts";
import type { CapabilityIndex } from "../entities/capabilities.ts";
import { mediaName } from "../entities/formats.ts";
import {
  COMING_STATES,
  type ModuleCaller,
  ModuleCallError,
  type ModuleDirectory,
  RUNNING_STATES,
} from "../entities/modules.ts";
import {
  type CreateEntityInput,
  ENTITIES_CHANGED_EVENT,
  ENTITY_ID_PATTERN,
  type EntityRecord,
  type EntityRegistry,
} from "../entities/registry.ts";
import { findPaths, NoPathError, type PathEnd } from "./pathfinder.ts";
import { SerialQueue } from "./queue.ts";

/** What the orchestrator knows about one flow. */
export interface FlowRecord {
  id: string;
  sourceEntityId: string;
  targetEntityId: string;
  state: FlowState;
  message: string;
  /** True while the flow should carry media (false after a stop or a failed creation). */
  wanted: boolean;
  /** The quality asked for. */
  quality: QualityProfile;
  /** The paths per media type, with the entity of every hop. */
  paths: MediaPath[];
  /** The connections made. */
  connections: Connection[];
  /** Converter entities created for the flow. */
  converters: string[];
  /** The source and/or target when their module discovered them (they come back when it announces them). */
  discovered: string[];
  /** True while every connection holds (no module on the path restarted since). */
  established: boolean;
  createdAt: Date;
  updatedAt: Date;
  /** The last status each module gave (StartFlow, AdjustQuality, ReportStatus, GetFlowStatus). */
  reported: Map<string, FlowStatus>;
  /** Modules that accepted an AdjustQuality and have not confirmed it with ReportStatus. */
  unconfirmed: Set<string>;
}

/** The persisted form of a flow. */
export interface StoredFlow {
  id: string;
  sourceEntityId: string;
  targetEntityId: string;
  state: number;
  message: string;
  wanted: boolean;
  quality: JsonValue;
  paths: JsonValue[];
  converters: string[];
  discovered?: string[];
  createdAt: string;
  updatedAt: string;
}

/** Filters of `list`. */
export interface FlowFilter {
  state?: FlowState;
  entityId?: string;
}

/** Options of the flow manager. */
export interface FlowManagerOptions {
  modules: ModuleDirectory;
  caps: CapabilityIndex;
  caller: ModuleCaller;
  entities: EntityRegistry;
  bus: EventBus;
  logger: Logger;
  /** Where flows are persisted; in memory only when unset. */
  store?: Collection<StoredFlow>;
  /** How often ACTIVE flows are checked with GetFlowStatus; 0 turns it off. Default 5 s. */
  monitorIntervalMs?: number;
}

/** Deadline of the live status reads of GetFlow and the monitor. */
const STATUS_TIMEOUT_MS = 3_000;

function stateName(state: FlowState): string {
  return FlowState[state] ?? String(state);
}

/** Checks a quality profile; INVALID_ARGUMENT naming the field. */
export function validateQuality(q: QualityProfile | undefined): QualityProfile {
  const quality = q ? clone(QualityProfileSchema, q) : create(QualityProfileSchema);
  if (!(quality.preset in QualityPreset)) {
    throw new RpcError(Code.INVALID_ARGUMENT, `quality.preset: unknown value ${quality.preset}`);
  }
  const limits: [keyof QualityProfile, number][] = [
    ["maxBitrateKbps", 1_000_000],
    ["width", 16_384],
    ["height", 16_384],
    ["framerate", 1_000],
    ["audioBitrateKbps", 10_000],
  ];
  for (const [field, max] of limits) {
    const value = quality[field] as number;
    if (value > max) {
      throw new RpcError(
        Code.INVALID_ARGUMENT,
        `quality.${field}: ${value} is more than ${max}`,
      );
    }
  }
  return quality;
}

/** Flows, and the serialised entity mutations that must respect them. */
export class FlowManager {
  private readonly flows = new Map<string, FlowRecord>();
  private readonly queue = new SerialQueue();
  private readonly seen = new Map<string, { running: boolean; ups: number }>();
  private readonly handled = new Map<string, { running: boolean; ups: number }>();
  private readonly stoppers: (() => void)[] = [];
  private readonly reconciling = new Set<string>();
  private monitorTimer?: ReturnType<typeof setTimeout>;
  private closed = false;

  readonly entities: EntityRegistry;
  private readonly caller: ModuleCaller;
  private readonly caps: CapabilityIndex;
  private readonly bus: EventBus;
  private readonly logger: Logger;

  constructor(private readonly options: FlowManagerOptions) {
    this.entities = options.entities;
    this.caller = options.caller;
    this.caps = options.caps;
    this.bus = options.bus;
    this.logger = options.logger;
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Loads persisted flows and starts following module states, module events and (when
   * enabled) the flow monitor. Flows that should run wait (DEGRADED) for their modules.
   */
  activate(): void {
    for (const { value: s } of this.options.store?.list() ?? []) {
      const flow: FlowRecord = {
        id: s.id,
        sourceEntityId: s.sourceEntityId,
        targetEntityId: s.targetEntityId,
        state: s.state,
        message: s.message,
        wanted: s.wanted,
        quality: fromJson(QualityProfileSchema, s.quality ?? {}, { ignoreUnknownFields: true }),
        paths: (s.paths ?? []).map((p) =>
          fromJson(MediaPathSchema, p, { ignoreUnknownFields: true })
        ),
        connections: [],
        converters: s.converters ?? [],
        discovered: s.discovered ?? [],
        established: false,
        createdAt: new Date(s.createdAt),
        updatedAt: new Date(s.updatedAt),
        reported: new Map(),
        unconfirmed: new Set(),
      };
      this.flows.set(flow.id, flow);
      if (flow.wanted) {
        this.setState(flow, FlowState.DEGRADED, "orchestrator restarted: waiting for the modules");
      } else if (flow.state !== FlowState.FAILED) {
        this.setState(flow, FlowState.STOPPED, flow.message);
      }
    }
    const { modules } = this.options;
    for (const name of modules.names()) this.observe(name, modules.state(name)!);
    this.stoppers.push(modules.watch((name, state) => this.observe(name, state)));
    this.stoppers.push(this.bus.subscribe((event) => {
      if (event.source === "module" && event.type === ENTITIES_CHANGED_EVENT && event.module) {
        this.scheduleReconcile(event.module);
      }
    }));
    this.scheduleMonitor();
  }

  /** Stops reacting to modules and waits (bounded) for the running task. */
  async close(timeoutMs = 5_000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.monitorTimer);
    for (const stop of this.stoppers.splice(0)) stop();
    await this.queue.drain(timeoutMs);
  }

  /** Resolves once every queued mutation has run (tests, shutdown). */
  settled(timeoutMs?: number): Promise<boolean> {
    return this.queue.drain(timeoutMs);
  }

  /** Runs a mutation on the queue. */
  private locked<T>(task: () => Promise<T>): Promise<T> {
    if (this.closed) {
      return Promise.reject(new RpcError(Code.UNAVAILABLE, "the orchestrator is shutting down"));
    }
    return this.queue.run(task);
  }

  /** Runs an internal task on the queue; its errors are logged. */
  private background(what: string, task: () => Promise<void>): void {
    if (this.closed) return;
    this.queue.run(async () => {
      if (this.closed) return;
      try {
        await task();
      } catch (err) {
        this.logger.error(`${what} failed`, { error: String((err as Error)?.stack ?? err) });
      }
    });
  }

  // ------------------------------------------------------------ module states

  /** Called on every module state change: notes ups and downs, queues their handling. */
  private observe(name: string, state: ModuleState): void {
    this.caps.remember(name);
    const running = RUNNING_STATES.has(state);
    const seen = this.seen.get(name) ?? { running: false, ups: 0 };
    this.seen.set(name, seen);
    if (running && !seen.running) seen.ups++;
    const changed = running !== seen.running;
    seen.running = running;
    if (!running && changed) {
      this.entities.setOffline(name, `module "${name}" is ${this.caller.describe(name)}`);
    }
    // A module that is down and changes state again (BACKOFF -> FAILED) may change
    // what its waiting flows say, so those changes are handled too.
    if (changed || !running) this.background(`module ${name} sync`, () => this.syncModule(name));
  }

  private async syncModule(name: string): Promise<void> {
    const seen = this.seen.get(name)!;
    const handled = this.handled.get(name) ?? { running: false, ups: 0 };
    this.handled.set(name, handled);
    if (handled.running && (!seen.running || handled.ups !== seen.ups)) {
      handled.running = false;
      await this.onModuleDown(name);
    } else if (!seen.running) {
      await this.refreshWaiting(name);
    }
    if (seen.running && !handled.running) {
      handled.running = true;
      handled.ups = seen.ups;
      await this.onModuleUp(name);
    }
  }

  private async onModuleDown(name: string): Promise<void> {
    const reason = `module "${name}" is ${this.caller.describe(name)}`;
    for (const flow of this.sorted()) {
      if (!this.involves(flow, name)) continue;
      flow.established = false;
      if (!flow.wanted) continue;
      this.setState(flow, FlowState.DEGRADED, reason);
      await this.recover(flow);
    }
  }

  /** Updates the flows waiting on a module that is still down (e.g. now FAILED). */
  private async refreshWaiting(name: string): Promise<void> {
    for (const flow of this.sorted()) {
      if (flow.wanted && !flow.established && this.involves(flow, name)) await this.recover(flow);
    }
  }

  private async onModuleUp(name: string): Promise<void> {
    await this.reconcile(name);
  }

  /**
   * Recreates a running module's desired entities and takes the ones it discovered, then
   * rebuilds every flow that should run and is not established (the module may be on
   * its path, or offer a converter or an entity it was waiting for).
   */
  private async reconcile(module: string): Promise<void> {
    const failed = await this.entities.reconcile(module);
    for (const [id, error] of failed) {
      this.logger.warn("cannot recreate an entity", { module, entity: id, error });
    }
    for (const flow of this.sorted()) {
      if (flow.wanted && !flow.established) await this.recover(flow);
    }
  }

  private scheduleReconcile(module: string): void {
    if (this.reconciling.has(module)) return;
    this.reconciling.add(module);
    this.background(`reconcile ${module}`, async () => {
      this.reconciling.delete(module);
      if (this.caller.isRunning(module) && this.handled.get(module)?.running) {
        await this.reconcile(module);
      }
    });
  }

  // ------------------------------------------------------------------ reading

  /** The flow `id`; NOT_FOUND when unknown. */
  require(id: string): FlowRecord {
    const flow = this.flows.get(id);
    if (!flow) throw new RpcError(Code.NOT_FOUND, `flow "${id}" not found`);
    return flow;
  }

  /** The flow `id`, if known. */
  get(id: string): FlowRecord | undefined {
    return this.flows.get(id);
  }

  /** Flows matching the filter, sorted by id. */
  list(filter: FlowFilter = {}): FlowRecord[] {
    return this.sorted().filter((f) =>
      (!filter.state || f.state === filter.state) &&
      (!filter.entityId || this.entityIds(f).has(filter.entityId))
    );
  }

  /** How many flows there are. */
  count(): number {
    return this.flows.size;
  }

  private sorted(): FlowRecord[] {
    return [...this.flows.values()].sort((a, b) => a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  }

  /** Every entity a flow uses. */
  entityIds(flow: FlowRecord): Set<string> {
    const ids = new Set([flow.sourceEntityId, flow.targetEntityId, ...flow.converters]);
    for (const p of flow.paths) for (const h of p.hops) if (h.entityId) ids.add(h.entityId);
    return ids;
  }

  /** Every module a flow uses, downstream first (the order StartFlow is called in). */
  modulesOf(flow: FlowRecord): string[] {
    const order: string[] = [];
    const add = (m: string | undefined) => m && !order.includes(m) && order.push(m);
    add(this.entities.get(flow.targetEntityId)?.module);
    for (const p of flow.paths) for (const h of [...p.hops].reverse()) add(h.module);
    add(this.entities.get(flow.sourceEntityId)?.module);
    return order;
  }

  private involves(flow: FlowRecord, module: string): boolean {
    return this.modulesOf(flow).includes(module);
  }

  /** The flow as clients see it; `statuses` defaults to the last reported ones. */
  toProto(flow: FlowRecord, statuses?: FlowStatus[]): Flow {
    return create(FlowSchema, {
      id: flow.id,
      sourceEntityId: flow.sourceEntityId,
      targetEntityId: flow.targetEntityId,
      state: flow.state,
      message: flow.message,
      path: flow.paths.flatMap((p) => p.hops),
      connections: flow.connections,
      quality: flow.quality,
      statuses: statuses ?? this.modulesOf(flow).flatMap((m) => {
        const s = flow.reported.get(m);
        return s ? [s] : [];
      }),
      createdAt: timestampFromDate(flow.createdAt),
      updatedAt: timestampFromDate(flow.updatedAt),
    });
  }

  /** The flow's live status on every module involved (GetFlowStatus, in parallel). */
  async liveStatuses(flow: FlowRecord): Promise<FlowStatus[]> {
    return await Promise.all(
      this.modulesOf(flow).map(async (module) => {
        if (!this.caller.isRunning(module)) {
          return create(FlowStatusSchema, {
            flowId: flow.id,
            module,
            state: FlowState.FAILED,
            message: `module "${module}" is not running (${this.caller.describe(module)})`,
          });
        }
        try {
          const res = await this.caller.call(
            module,
            "GetFlowStatus",
            (c, o) => c.pipeline.getFlowStatus({ flowId: flow.id }, o),
            STATUS_TIMEOUT_MS,
          );
          const status = statusWith(res.status, { flowId: flow.id, module });
          flow.reported.set(module, status);
          return status;
        } catch (err) {
          return create(FlowStatusSchema, {
            flowId: flow.id,
            module,
            state: flow.reported.get(module)?.state ?? FlowState.UNSPECIFIED,
            message: `status unavailable: ${(err as Error).message}`,
            quality: flow.reported.get(module)?.quality,
          });
        }
      }),
    );
  }

  // ------------------------------------------------------------- path-finding

  /** The source side of a path from an entity's declared outputs. */
  private pathEnd(e: EntityRecord, side: "source" | "target"): PathEnd {
    return {
      entityId: e.id,
      entityType: e.entityType,
      module: e.module,
      kind: e.kind,
      formats: side === "source"
        ? this.caps.outputsOf(e.module, e.entityType)
        : this.caps.inputsOf(e.module, e.entityType),
    };
  }

  private ends(sourceId: string, targetId: string): [EntityRecord, EntityRecord] {
    if (!sourceId) throw new RpcError(Code.INVALID_ARGUMENT, "source_entity_id is required");
    if (!targetId) throw new RpcError(Code.INVALID_ARGUMENT, "target_entity_id is required");
    if (sourceId === targetId) {
      throw new RpcError(Code.INVALID_ARGUMENT, "source and target must be different entities");
    }
    const source = this.entities.require(sourceId);
    const target = this.entities.require(targetId);
    if (source.kind === EntityKind.CONVERTER || target.kind === EntityKind.CONVERTER) {
      const which = source.kind === EntityKind.CONVERTER ? source : target;
      throw new RpcError(
        Code.INVALID_ARGUMENT,
        `entity "${which.id}" is a converter: flows run between sources, sinks and endpoints`,
      );
    }
    return [source, target];
  }

  /**
   * The cheapest path per media type between two entities through the converters of the
   * running modules (every known module with `anyState`).
   */
  findPath(sourceId: string, targetId: string, anyState = false) {
    const [source, target] = this.ends(sourceId, targetId);
    return findPaths(
      this.pathEnd(source, "source"),
      this.pathEnd(target, "target"),
      this.caps.converters(anyState),
    );
  }

  // ---------------------------------------------------------------- building

  /** Creates (or reuses) converters, connects every hop, starts the flow on every module. */
  private async establish(flow: FlowRecord, paths: MediaPath[], reuse: string[]): Promise<void> {
    const made = {
      converters: [] as string[],
      sides: [] as { module: string; connectionId: string }[],
      started: [] as string[],
    };
    const reusable = [...reuse];
    const claimed: string[] = [];
    try {
      // 1. Converter entities: one per (module, type, occurrence in its media path); the
      // video and audio paths share a converter of the same module and type.
      const byKey = new Map<string, string>();
      for (const path of paths) {
        const seen = new Map<string, number>();
        for (const hop of path.hops) {
          if (hop.kind !== EntityKind.CONVERTER || hop.entityId) continue;
          const type = `${hop.module}\u0000${hop.entityType}`;
          const n = seen.get(type) ?? 0;
          seen.set(type, n + 1);
          const key = `${type}\u0000${n}`;
          let id = byKey.get(key);
          if (!id) {
            const i = reusable.findIndex((r) => {
              const e = this.entities.get(r);
              return e?.module === hop.module && e.entityType === hop.entityType;
            });
            if (i >= 0) {
              id = reusable.splice(i, 1)[0];
              await this.ensureEntity(this.entities.get(id)!);
              claimed.push(id);
            } else {
              const input: CreateEntityInput = {
                id: this.entities.uniqueId(`${flow.id}-${hop.entityType}`),
                entityType: hop.entityType,
                module: hop.module,
                name: `${hop.entityType} for flow ${flow.id}`,
                origin: EntityOrigin.FLOW,
              };
              id = (await this.entities.create(input)).id;
              made.converters.push(id);
            }
            byKey.set(key, id);
          }
          hop.entityId = id;
        }
      }
      flow.paths = paths;
      flow.converters = [...claimed, ...made.converters];
      this.persist(flow);

      // 2. Connections, hop by hop: receiver first, then the sender with its address.
      const connections: Connection[] = [];
      for (const path of paths) {
        for (let i = 0; i + 1 < path.hops.length; i++) {
          const sender = path.hops[i];
          const receiver = path.hops[i + 1];
          const connection = create(ConnectionSchema, {
            id: `${flow.id}-${mediaName(path.mediaType)}-${i}`,
            flowId: flow.id,
            sourceEntityId: sender.entityId,
            targetEntityId: receiver.entityId,
            format: sender.output,
          });
          const request = {
            connectionId: connection.id,
            flowId: flow.id,
            sourceEntityId: sender.entityId,
            targetEntityId: receiver.entityId,
            format: connection.format,
          };
          const accepted = await this.caller.call(
            receiver.module,
            "ConnectEntities",
            (c, o) => c.pipeline.connectEntities({ ...request, role: ConnectionRole.RECEIVER }, o),
          );
          made.sides.push({ module: receiver.module, connectionId: connection.id });
          connection.address = accepted.address;
          await this.caller.call(
            sender.module,
            "ConnectEntities",
            (c, o) =>
              c.pipeline.connectEntities(
                { ...request, role: ConnectionRole.SENDER, address: accepted.address },
                o,
              ),
          );
          if (sender.module !== receiver.module) {
            made.sides.push({ module: sender.module, connectionId: connection.id });
          }
          connections.push(connection);
        }
      }
      flow.connections = connections;

      // 3. Start, downstream first, so every receiver is ready before media arrives.
      if (flow.state === FlowState.CREATING) this.setState(flow, FlowState.STARTING, "connected");
      await this.startModules(flow, made.started);
      flow.established = true;
    } catch (err) {
      await this.undo(flow, made);
      flow.connections = [];
      const gone = new Set(made.converters);
      for (const p of paths) for (const h of p.hops) if (gone.has(h.entityId)) h.entityId = "";
      flow.converters = flow.converters.filter((id) => !gone.has(id));
      throw err;
    } finally {
      // Converters of an earlier path that the new one does not use.
      for (const id of reusable) await this.destroyQuietly(id);
      if (reusable.length) {
        flow.converters = flow.converters.filter((id) => !reusable.includes(id));
      }
      this.persist(flow);
    }
  }

  /** StartFlow on every module of the flow, downstream first; `started` collects them. */
  private async startModules(flow: FlowRecord, started: string[]): Promise<void> {
    const connectionsOf = (module: string) =>
      flow.connections.filter((c) =>
        this.moduleOfEntity(flow, c.sourceEntityId) === module ||
        this.moduleOfEntity(flow, c.targetEntityId) === module
      ).map((c) => c.id);
    for (const module of this.modulesOf(flow)) {
      const res = await this.caller.call(
        module,
        "StartFlow",
        (c, o) =>
          c.pipeline.startFlow(
            { flowId: flow.id, connectionIds: connectionsOf(module), quality: flow.quality },
            o,
          ),
      );
      started.push(module);
      flow.reported.set(
        module,
        statusWith(res.status, {
          flowId: flow.id,
          module,
          quality: res.status?.quality ?? flow.quality,
        }),
      );
    }
  }

  private moduleOfEntity(flow: FlowRecord, entityId: string): string | undefined {
    for (const p of flow.paths) {
      for (const h of p.hops) if (h.entityId === entityId) return h.module;
    }
    return this.entities.get(entityId)?.module;
  }

  /** Asks the module to (re)create a converter it should have; CreateEntity is idempotent. */
  private async ensureEntity(e: EntityRecord): Promise<void> {
    const res = await this.caller.call(
      e.module,
      "CreateEntity",
      (c, o) =>
        c.entity.createEntity({
          entityId: e.id,
          entityType: e.entityType,
          name: e.name,
          configuration: e.configuration,
        }, o),
    );
    if (res.entity?.state) this.entities.setState(e, res.entity.state, "");
  }

  /** Undoes a partial build, in reverse; errors are logged, not thrown. */
  private async undo(
    flow: FlowRecord,
    made: {
      converters: string[];
      sides: { module: string; connectionId: string }[];
      started: string[];
    },
  ): Promise<void> {
    for (const module of [...made.started].reverse()) {
      await this.quietly(module, "StopFlow", (c, o) => c.pipeline.stopFlow({ flowId: flow.id }, o));
    }
    for (const side of [...made.sides].reverse()) {
      await this.quietly(
        side.module,
        "DisconnectEntities",
        (c, o) =>
          c.pipeline.disconnectEntities({ connectionId: side.connectionId, flowId: flow.id }, o),
      );
    }
    for (const id of [...made.converters].reverse()) await this.destroyQuietly(id);
  }

  /** Stops the flow on every running module and tears down every connection. */
  private async teardown(flow: FlowRecord): Promise<void> {
    if (flow.connections.length === 0 && !flow.established) return;
    for (const module of this.modulesOf(flow)) {
      if (!this.caller.isRunning(module)) continue;
      await this.quietly(module, "StopFlow", (c, o) => c.pipeline.stopFlow({ flowId: flow.id }, o));
    }
    for (const connection of [...flow.connections].reverse()) {
      const modules = new Set(
        [connection.targetEntityId, connection.sourceEntityId].map((id) =>
          this.moduleOfEntity(flow, id)
        ),
      );
      for (const module of modules) {
        if (!module || !this.caller.isRunning(module)) continue;
        await this.quietly(
          module,
          "DisconnectEntities",
          (c, o) =>
            c.pipeline.disconnectEntities({ connectionId: connection.id, flowId: flow.id }, o),
        );
      }
    }
    flow.connections = [];
    flow.established = false;
  }

  private async quietly(
    module: string,
    method: string,
    fn: Parameters<ModuleCaller["call"]>[2],
  ): Promise<void> {
    try {
      await this.caller.call(module, method, fn);
    } catch (err) {
      this.logger.warn("cleanup call failed", { module, method, error: (err as Error).message });
    }
  }

  private async destroyQuietly(id: string): Promise<void> {
    if (!this.entities.get(id)) return;
    try {
      await this.entities.destroy(id, true);
    } catch (err) {
      this.logger.warn("cannot destroy a converter", { entity: id, error: (err as Error).message });
    }
  }

  /**
   * Re-establishes a flow that should run and is not established: waits while its
   * source or target module is down, re-routes when the path changed, and reuses its
   * converters where it did not.
   */
  private async recover(flow: FlowRecord): Promise<void> {
    if (!flow.wanted || this.closed || !this.flows.has(flow.id)) return;
    const source = this.entities.get(flow.sourceEntityId);
    const target = this.entities.get(flow.targetEntityId);
    if (!source || !target) {
      // A discovered entity is known again once its module lists it.
      await this.teardown(flow);
      const missing = !source ? flow.sourceEntityId : flow.targetEntityId;
      const module = this.moduleOfEntity(flow, missing);
      if (module && (!this.handled.get(module)?.running || flow.discovered.includes(missing))) {
        this.wait(flow, [module], `entity "${missing}" of `);
      } else {
        this.setState(
          flow,
          FlowState.FAILED,
          `entity "${missing}" no longer exists${
            module ? ` (module "${module}" does not list it)` : ""
          }`,
        );
      }
      return;
    }
    const down = [source.module, target.module].filter((m) => !this.caller.isRunning(m));
    if (down.length > 0) {
      await this.teardown(flow);
      this.wait(flow, [...new Set(down)]);
      return;
    }
    let paths: MediaPath[];
    try {
      paths = this.findPath(flow.sourceEntityId, flow.targetEntityId).paths;
    } catch (err) {
      await this.teardown(flow);
      if (!(err instanceof NoPathError)) throw err;
      // Would the converters of modules that are down serve?
      let waitingOn: string[] = [];
      try {
        const all = this.findPath(flow.sourceEntityId, flow.targetEntityId, true).paths;
        waitingOn = [
          ...new Set(all.flatMap((p) => p.hops.map((h) => h.module))),
        ].filter((m) => !this.caller.isRunning(m));
      } catch {
        // No path even with every module.
      }
      if (waitingOn.length > 0) this.wait(flow, waitingOn);
      else this.setState(flow, FlowState.FAILED, err.message);
      return;
    }
    await this.teardown(flow);
    const before = this.route(flow.paths);
    const reused = flow.converters.filter((id) => this.entities.get(id));
    try {
      await this.establish(flow, paths, reused);
    } catch (err) {
      const module = err instanceof ModuleCallError ? err.module : "";
      if (module && !this.caller.isRunning(module)) {
        this.wait(flow, [module]);
      } else {
        this.setState(flow, FlowState.FAILED, `cannot re-establish: ${(err as Error).message}`);
      }
      return;
    }
    const after = this.route(flow.paths);
    const rerouted = before !== "" && before !== after;
    if (rerouted) {
      this.bus.publish({
        type: "flow.rerouted",
        severity: Severity.WARNING,
        flowId: flow.id,
        message: `flow "${flow.id}" re-routed: ${before} => ${after}`,
        data: { from: before, to: after },
      });
    }
    this.setState(flow, FlowState.ACTIVE, rerouted ? `re-routed: ${after}` : "re-established");
  }

  /**
   * DEGRADED while the modules may still come back (or run and were not reconciled
   * yet), FAILED when none of them will on its own.
   */
  private wait(flow: FlowRecord, modules: string[], what = ""): void {
    const coming = modules.some((m) => {
      const state = this.options.modules.state(m);
      return state !== undefined && (COMING_STATES.has(state) || RUNNING_STATES.has(state));
    });
    const list = modules.map((m) => `"${m}" (${this.caller.describe(m)})`).join(", ");
    this.setState(
      flow,
      coming ? FlowState.DEGRADED : FlowState.FAILED,
      `${coming ? "waiting for" : "cannot recover without"} ${what}module${
        modules.length > 1 ? "s" : ""
      } ${list}`,
    );
  }

  /** "video: cam > conv(media-converter) > tv | audio: ..." for messages and events. */
  private route(paths: MediaPath[]): string {
    return paths.map((p) =>
      `${mediaName(p.mediaType)}: ${
        p.hops.map((h) =>
          h.kind === EntityKind.CONVERTER ? `${h.module}/${h.entityType}` : h.entityId
        )
          .join(" > ")
      }`
    ).join(" | ");
  }

  // ------------------------------------------------------------ flow commands

  /** Creates, builds and starts a flow. On failure the flow stays FAILED and is undone. */
  create(input: {
    sourceEntityId: string;
    targetEntityId: string;
    quality?: QualityProfile;
    id?: string;
  }): Promise<FlowRecord> {
    return this.locked(async () => {
      const quality = validateQuality(input.quality);
      const [source, target] = this.ends(input.sourceEntityId, input.targetEntityId);
      let id = input.id ?? "";
      if (id) {
        if (!ENTITY_ID_PATTERN.test(id)) {
          throw new RpcError(
            Code.INVALID_ARGUMENT,
            `id "${id}" is not valid: use letters, digits, '.', '_' and '-' (at most 128)`,
          );
        }
        if (this.flows.has(id)) {
          throw new RpcError(Code.ALREADY_EXISTS, `flow "${id}" already exists`);
        }
      } else id = this.uniqueId(`${source.id}-to-${target.id}`);
      for (const e of [source, target]) {
        if (!this.caller.isRunning(e.module)) {
          throw new RpcError(
            Code.UNAVAILABLE,
            `entity "${e.id}" is OFFLINE: module "${e.module}" is not running (${
              this.caller.describe(e.module)
            })`,
          );
        }
      }
      const { paths } = this.findPath(source.id, target.id);
      const now = new Date();
      const flow: FlowRecord = {
        id,
        sourceEntityId: source.id,
        targetEntityId: target.id,
        state: FlowState.UNSPECIFIED,
        message: "",
        wanted: true,
        quality,
        paths,
        connections: [],
        converters: [],
        discovered: [source, target].filter((e) => e.origin === EntityOrigin.DISCOVERED)
          .map((e) => e.id),
        established: false,
        createdAt: now,
        updatedAt: now,
        reported: new Map(),
        unconfirmed: new Set(),
      };
      this.flows.set(id, flow);
      this.bus.publish({
        type: "flow.created",
        flowId: id,
        message: `flow "${id}" from "${source.id}" to "${target.id}": ${this.route(paths)}`,
        data: { sourceEntityId: source.id, targetEntityId: target.id },
      });
      this.setState(flow, FlowState.CREATING, `path found: ${this.route(paths)}`);
      try {
        await this.establish(flow, paths, []);
      } catch (err) {
        flow.wanted = false;
        const message = `${(err as Error).message}; everything made for the flow was undone`;
        this.setState(flow, FlowState.FAILED, message);
        const code = err instanceof RpcError ? err.code : Code.INTERNAL;
        throw new RpcError(code, `flow "${id}" failed: ${message}`);
      }
      this.setState(flow, FlowState.ACTIVE, "media flowing");
      return flow;
    });
  }

  private uniqueId(base: string): string {
    const root = base.toLowerCase().replace(/[^a-z0-9._-]+/g, "-").replace(/^[^a-z0-9]+/, "")
      .slice(0, 100) || "flow";
    if (!this.flows.has(root)) return root;
    for (let i = 2;; i++) if (!this.flows.has(`${root}-${i}`)) return `${root}-${i}`;
  }

  /** Starts a STOPPED (or FAILED) flow again; rebuilds it when its connections are gone. */
  start(id: string): Promise<FlowRecord> {
    return this.locked(async () => {
      const flow = this.require(id);
      if (flow.wanted && flow.established && flow.state === FlowState.ACTIVE) return flow;
      flow.wanted = true;
      if (flow.established) {
        try {
          await this.startModules(flow, []);
          this.setState(flow, FlowState.ACTIVE, "started");
          return flow;
        } catch (err) {
          this.logger.warn("restarting a flow failed; rebuilding it", {
            flow: id,
            error: (err as Error).message,
          });
          flow.established = false;
        }
      }
      this.setState(flow, FlowState.STARTING, "start requested: re-establishing");
      await this.recover(flow);
      if (flow.state === FlowState.FAILED) {
        throw new RpcError(Code.FAILED_PRECONDITION, `flow "${id}" cannot start: ${flow.message}`);
      }
      return flow;
    });
  }

  /** Stops media on every module; the connections stay. */
  stop(id: string): Promise<FlowRecord> {
    return this.locked(async () => {
      const flow = this.require(id);
      flow.wanted = false;
      if (flow.established) {
        for (const module of this.modulesOf(flow)) {
          if (!this.caller.isRunning(module)) continue;
          await this.quietly(module, "StopFlow", (c, o) => c.pipeline.stopFlow({ flowId: id }, o));
        }
      }
      this.setState(flow, FlowState.STOPPED, "stopped on request");
      return flow;
    });
  }

  /**
   * Changes the flow's quality. Applied at once by every module of an established flow
   * (each confirms later with ReportStatus); otherwise when the flow next starts.
   */
  adjustQuality(id: string, requested: QualityProfile | undefined): Promise<FlowRecord> {
    return this.locked(async () => {
      const flow = this.require(id);
      const quality = validateQuality(requested);
      flow.quality = quality;
      flow.updatedAt = new Date();
      this.persist(flow);
      const failures: string[] = [];
      if (flow.established && flow.wanted) {
        for (const module of this.modulesOf(flow)) {
          try {
            const res = await this.caller.call(
              module,
              "AdjustQuality",
              (c, o) => c.pipeline.adjustQuality({ flowId: id, quality }, o),
            );
            const previous = flow.reported.get(module);
            flow.reported.set(
              module,
              statusWith(previous, { flowId: id, module, quality: res.quality ?? quality }),
            );
            flow.unconfirmed.add(module);
          } catch (err) {
            failures.push((err as Error).message);
          }
        }
      }
      this.bus.publish({
        type: "flow.quality_changed",
        flowId: id,
        message: `flow "${id}" quality set to ${describeQuality(quality)}`,
        data: toJson(QualityProfileSchema, quality) as JsonValue as { [k: string]: JsonValue },
      });
      if (failures.length) {
        throw new RpcError(
          Code.FAILED_PRECONDITION,
          `flow "${id}": the quality was stored but not applied everywhere: ${failures.join("; ")}`,
        );
      }
      return flow;
    });
  }

  /** Stops and disconnects a flow, destroys its converters and forgets it. */
  delete(id: string): Promise<void> {
    return this.locked(() => this.deleteUnlocked(this.require(id)));
  }

  private async deleteUnlocked(flow: FlowRecord): Promise<void> {
    flow.wanted = false;
    await this.teardown(flow);
    for (const id of flow.converters) await this.destroyQuietly(id);
    this.flows.delete(flow.id);
    this.options.store?.delete(flow.id);
    this.updateEntityStates(flow);
    this.bus.publish({
      type: "flow.deleted",
      flowId: flow.id,
      message: `flow "${flow.id}" deleted`,
    });
  }

  // ---------------------------------------------------------- entity commands

  /** Creates an entity (see EntityRegistry.create). */
  createEntity(input: CreateEntityInput): Promise<EntityRecord> {
    return this.locked(() => this.entities.create(input));
  }

  /** Changes an entity's configuration and/or name. */
  configureEntity(
    id: string,
    configuration?: Parameters<EntityRegistry["configure"]>[1],
    name?: string,
  ): Promise<EntityRecord> {
    return this.locked(() => this.entities.configure(id, configuration, name));
  }

  /**
   * Destroys an entity. FAILED_PRECONDITION naming the flows that use it, unless `force`
   * (then those flows are deleted first).
   */
  destroyEntity(id: string, force = false): Promise<void> {
    return this.locked(async () => {
      const entity = this.entities.require(id);
      const users = this.sorted().filter((f) => this.entityIds(f).has(id));
      if (users.length > 0 && !force) {
        const list = users.map((f) => `"${f.id}" (${stateName(f.state)})`).join(", ");
        throw new RpcError(
          Code.FAILED_PRECONDITION,
          `entity "${id}" is used by flow${users.length > 1 ? "s" : ""} ${list}: delete ${
            users.length > 1 ? "them" : "it"
          } first, or destroy with force=true to delete ${users.length > 1 ? "them" : "it"} too`,
        );
      }
      for (const flow of users) await this.deleteUnlocked(flow);
      if (this.entities.get(id)) await this.entities.destroy(entity.id, force);
    });
  }

  // ------------------------------------------------------- module status reports

  /**
   * Takes a module's ReportStatus: entity states, and flow statuses (the quality a
   * module reports confirms an AdjustQuality). Call it from the EventService handler
   * with the module the token belongs to. Never throws.
   */
  onModuleStatus(module: string, report: ReportStatusRequest): void {
    try {
      for (const status of report.entities) this.entities.applyStatus(module, status);
      for (const reported of report.flows) {
        const flow = this.flows.get(reported.flowId);
        if (!flow || !this.involves(flow, module)) continue;
        const status = statusWith(reported, { module });
        const before = flow.reported.get(module);
        flow.reported.set(module, status);
        if (
          status.quality &&
          (flow.unconfirmed.has(module) ||
            !before?.quality || !equals(QualityProfileSchema, before.quality, status.quality))
        ) {
          flow.unconfirmed.delete(module);
          this.bus.publish({
            type: "flow.quality_applied",
            module,
            flowId: flow.id,
            message: `module "${module}" applies ${
              describeQuality(status.quality)
            } to flow "${flow.id}"`,
            data: toJson(QualityProfileSchema, status.quality) as { [k: string]: JsonValue },
          });
        }
        this.judge(flow, module, status);
      }
    } catch (err) {
      this.logger.warn("bad status report", { module, error: String(err) });
    }
  }

  /** True when no module still has to confirm the flow's last AdjustQuality. */
  qualityConfirmed(flow: FlowRecord): boolean {
    return flow.unconfirmed.size === 0;
  }

  /** Reacts to a module's account of a flow: a lost or failed flow is checked and rebuilt. */
  private judge(flow: FlowRecord, module: string, status: FlowStatus): void {
    if (!flow.wanted || !flow.established) return;
    if (status.state === FlowState.FAILED || status.state === FlowState.STOPPED) {
      this.background(`check flow ${flow.id}`, () => this.verify(flow, module));
    } else if (status.state === FlowState.DEGRADED && flow.state === FlowState.ACTIVE) {
      this.setState(flow, FlowState.DEGRADED, `module "${module}" reports: ${status.message}`);
    } else if (status.state === FlowState.ACTIVE && flow.state === FlowState.DEGRADED) {
      const others = [...flow.reported.values()].filter((s) => s.module !== module);
      if (others.every((s) => s.state !== FlowState.DEGRADED)) {
        this.setState(flow, FlowState.ACTIVE, "every module reports the flow active");
      }
    }
  }

  /**
   * Asks the module again (on the queue, so no build is in progress) and rebuilds the
   * flow when the module lost it or reports it failed or stopped.
   */
  private async verify(flow: FlowRecord, module: string): Promise<void> {
    if (!flow.wanted || !flow.established || !this.flows.has(flow.id)) return;
    let reason = "";
    try {
      const res = await this.caller.call(
        module,
        "GetFlowStatus",
        (c, o) => c.pipeline.getFlowStatus({ flowId: flow.id }, o),
        STATUS_TIMEOUT_MS,
      );
      const state = res.status?.state ?? FlowState.UNSPECIFIED;
      if (state === FlowState.FAILED || state === FlowState.STOPPED) {
        reason = `module "${module}" reports the flow ${stateName(state)}${
          res.status?.message ? `: ${res.status.message}` : ""
        }`;
      }
    } catch (err) {
      if (err instanceof ModuleCallError && err.code === Code.NOT_FOUND) {
        reason = `module "${module}" lost the flow`;
      }
    }
    if (!reason) return;
    flow.established = false;
    this.setState(flow, FlowState.DEGRADED, reason);
    await this.recover(flow);
  }

  // -------------------------------------------------------------- monitoring

  private scheduleMonitor(): void {
    const interval = this.options.monitorIntervalMs ?? 5_000;
    if (interval <= 0 || this.closed) return;
    this.monitorTimer = setTimeout(async () => {
      try {
        await this.monitor();
      } catch (err) {
        this.logger.warn("flow monitor failed", { error: String(err) });
      }
      this.scheduleMonitor();
    }, interval);
  }

  /** Asks every module of every established flow for its status; lost flows are rebuilt. */
  async monitor(): Promise<void> {
    for (const flow of this.sorted()) {
      // Builds in progress are not judged half-done.
      if (!this.queue.idle) return;
      if (this.closed) return;
      if (!flow.wanted || !flow.established) continue;
      for (const module of this.modulesOf(flow)) {
        if (!this.caller.isRunning(module)) continue;
        try {
          const res = await this.caller.call(
            module,
            "GetFlowStatus",
            (c, o) => c.pipeline.getFlowStatus({ flowId: flow.id }, o),
            STATUS_TIMEOUT_MS,
          );
          const status = statusWith(res.status, { flowId: flow.id, module });
          flow.reported.set(module, status);
          this.judge(flow, module, status);
        } catch (err) {
          if (err instanceof ModuleCallError && err.code === Code.NOT_FOUND) {
            this.judge(
              flow,
              module,
              create(FlowStatusSchema, {
                flowId: flow.id,
                module,
                state: FlowState.FAILED,
                message: "the module does not know the flow",
              }),
            );
          }
        }
      }
    }
  }

  // ------------------------------------------------------------------ state

  /**
   * An entity carries media (ACTIVE) while an ACTIVE flow uses it, and is READY again
   * when none does; other entity states (OFFLINE, FAILED, ...) are the modules' word.
   */
  private updateEntityStates(flow: FlowRecord): void {
    for (const id of this.entityIds(flow)) {
      const e = this.entities.get(id);
      if (!e || (e.state !== EntityState.READY && e.state !== EntityState.ACTIVE)) continue;
      const active = [...this.flows.values()].some((f) =>
        f.state === FlowState.ACTIVE && f.established && this.entityIds(f).has(id)
      );
      const state = active ? EntityState.ACTIVE : EntityState.READY;
      if (e.state !== state) {
        this.entities.setState(e, state, active ? "carrying media" : "no active flow");
      }
    }
  }

  private setState(flow: FlowRecord, state: FlowState, message: string): void {
    const from = flow.state;
    flow.message = message;
    flow.updatedAt = new Date();
    if (from !== state) {
      flow.state = state;
      this.logger.log(state === FlowState.FAILED ? "warn" : "info", "flow state changed", {
        flow: flow.id,
        from: stateName(from),
        to: stateName(state),
        reason: message,
      });
      this.bus.publish({
        type: "flow.state_changed",
        severity: state === FlowState.FAILED
          ? Severity.ERROR
          : state === FlowState.DEGRADED
          ? Severity.WARNING
          : Severity.INFO,
        flowId: flow.id,
        message: `flow "${flow.id}": ${stateName(from)} -> ${stateName(state)}${
          message ? `: ${message}` : ""
        }`,
        data: { from: stateName(from), to: stateName(state), reason: message },
      });
      this.updateEntityStates(flow);
    }
    this.persist(flow);
  }

  private persist(flow: FlowRecord): void {
    if (!this.flows.has(flow.id)) return;
    this.options.store?.put(flow.id, {
      id: flow.id,
      sourceEntityId: flow.sourceEntityId,
      targetEntityId: flow.targetEntityId,
      state: flow.state,
      message: flow.message,
      wanted: flow.wanted,
      quality: toJson(QualityProfileSchema, flow.quality),
      paths: flow.paths.map((p) => toJson(MediaPathSchema, p)),
      converters: flow.converters,
      discovered: flow.discovered,
      createdAt: flow.createdAt.toISOString(),
      updatedAt: flow.updatedAt.toISOString(),
    });
  }
}

/** A copy of `base` (or an empty status) with `fields` set. */
function statusWith(base: FlowStatus | undefined, fields: Partial<FlowStatus>): FlowStatus {
  const status = base ? clone(FlowStatusSchema, base) : create(FlowStatusSchema);
  return Object.assign(status, fields);
}

/** "MEDIUM, 1500 kbit/s, 30 fps" for messages. */
export function describeQuality(q: QualityProfile): string {
  const parts = [QualityPreset[q.preset] ?? String(q.preset)];
  if (q.maxBitrateKbps) parts.push(`${q.maxBitrateKbps} kbit/s`);
  if (q.width || q.height) parts.push(`${q.width}x${q.height}`);
  if (q.framerate) parts.push(`${q.framerate} fps`);
  if (q.audioBitrateKbps) parts.push(`audio ${q.audioBitrateKbps} kbit/s`);
  return parts.join(", ");
}
