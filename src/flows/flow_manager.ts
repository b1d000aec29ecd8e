/**
 * Flows: media from a source entity to a target entity through converters.
 *
 * The flow manager is the public face of the area. It composes:
 * - flow_records.ts: the flow records, their state machine and persistence;
 * - flow_paths.ts: checking a flow's ends and finding its path;
 * - flow_builder.ts: building a flow (converters, connections, start) and tearing it down;
 * - flow_recovery.ts: re-establishing and re-routing flows as modules come and go;
 * - flow_monitor.ts: the status checks and the modules' status reports;
 * - flow_tasks.ts: the one serial queue every mutation (flows and entities) runs on;
 *   reads do not wait.
 *
 * Past 400 lines on purpose: it is the area's whole public API (each method a short
 * composition of the parts above).
 */
import { create, type JsonValue, toJson } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ReportStatusRequest } from "@callassistant/protocol";
import {
  EntityOrigin,
  type Flow,
  FlowSchema,
  FlowState,
  type FlowStatus,
  type QualityProfile,
  QualityProfileSchema,
} from "@callassistant/protocol";
import type { EventBus } from "../events/event_bus.ts";
import type { Logger } from "../log/logger.ts";
import { Code, RpcError } from "@callassistant/rpc";
import type { Collection } from "../store/store.ts";
import type { CapabilityIndex } from "../entities/capabilities.ts";
import type { ModuleCaller, ModuleDirectory } from "../module_calls/module_caller.ts";
import type { EntityRegistry } from "../entities/entity_registry.ts";
import {
  type CreateEntityInput,
  ENTITY_ID_PATTERN,
  type EntityRecord,
} from "../entities/entity_record.ts";
import { FlowBuilder } from "./flow_builder.ts";
import { type FlowMediaLimits, validateMediaLimits } from "./flow_media.ts";
import { FlowMonitor } from "./flow_monitor.ts";
import { describeRoute, findFlowPaths, flowEnds } from "./flow_paths.ts";
import { FlowRecovery } from "./flow_recovery.ts";
import {
  type FlowRecord,
  FlowRecords,
  flowStateName,
  statusWith,
  type StoredFlow,
} from "./flow_records.ts";
import { FlowTasks } from "./flow_tasks.ts";
import { FlowWatchdog } from "./flow_watchdog.ts";
import { describeQuality, validateQuality } from "./quality.ts";
import { badRequest } from "../api_conventions/error_details.ts";

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
  /** How often the media watchdog judges flows; 0 turns its timer off. Default 500 ms. */
  watchdogIntervalMs?: number;
}

/** Flows, and the serialised entity mutations that must respect them. */
export class FlowManager {
  readonly entities: EntityRegistry;
  readonly #flows: FlowRecords;
  readonly #tasks: FlowTasks;
  readonly #builder: FlowBuilder;
  readonly #recovery: FlowRecovery;
  readonly #monitorer: FlowMonitor;
  /** The media watchdog (flow_watchdog.ts). */
  readonly watchdog: FlowWatchdog;
  readonly #caller: ModuleCaller;
  readonly #caps: CapabilityIndex;
  readonly #bus: EventBus;
  readonly #logger: Logger;
  #stopFollowing?: () => void;

  constructor(options: FlowManagerOptions) {
    const { entities, caller, caps, bus, logger } = options;
    this.entities = entities;
    this.#caller = caller;
    this.#caps = caps;
    this.#bus = bus;
    this.#logger = logger;
    this.#flows = new FlowRecords({ entities, bus, logger, store: options.store });
    this.#tasks = new FlowTasks(logger);
    this.#builder = new FlowBuilder({
      flows: this.#flows,
      entities,
      caller,
      logger,
      onStarted: (flow, modules) => this.watchdog.onStarted(flow, modules),
    });
    this.#recovery = new FlowRecovery({
      flows: this.#flows,
      builder: this.#builder,
      tasks: this.#tasks,
      modules: options.modules,
      caps,
      caller,
      entities,
      bus,
      logger,
    });
    this.watchdog = new FlowWatchdog({
      flows: this.#flows,
      recovery: this.#recovery,
      builder: this.#builder,
      tasks: this.#tasks,
      caller,
      modules: options.modules,
      caps,
      entities,
      bus,
      logger,
      intervalMs: options.watchdogIntervalMs,
    });
    this.#monitorer = new FlowMonitor({
      flows: this.#flows,
      recovery: this.#recovery,
      tasks: this.#tasks,
      caller,
      entities,
      bus,
      logger,
      intervalMs: options.monitorIntervalMs,
      media: this.watchdog,
    });
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Loads persisted flows and starts following module states, module events and (when
   * enabled) the flow monitor. Flows that should run wait (DEGRADED) for their modules.
   */
  activate(): void {
    this.#flows.restore();
    this.#stopFollowing = this.#recovery.follow();
    this.#monitorer.start();
    this.watchdog.start();
  }

  /** Stops reacting to modules and waits (bounded) for the running task. */
  async close(timeoutMs = 5_000): Promise<void> {
    if (this.#tasks.closed) return;
    this.#tasks.close();
    this.#monitorer.stop();
    this.watchdog.stop();
    this.#stopFollowing?.();
    this.#stopFollowing = undefined;
    await this.#tasks.drain(timeoutMs);
  }

  /** Resolves once every queued mutation has run (tests, shutdown). */
  settled(timeoutMs?: number): Promise<boolean> {
    return this.#tasks.drain(timeoutMs);
  }

  // ------------------------------------------------------------------ reading

  /** The flow `id`; NOT_FOUND when unknown. */
  require(id: string): FlowRecord {
    const flow = this.#flows.get(id);
    if (!flow) throw new RpcError(Code.NOT_FOUND, `flow "${id}" not found`);
    return flow;
  }

  /** The flow `id`, if known. */
  get(id: string): FlowRecord | undefined {
    return this.#flows.get(id);
  }

  /** Flows matching the filter, sorted by id. */
  list(filter: FlowFilter = {}): FlowRecord[] {
    return this.#flows.sorted().filter((f) =>
      (!filter.state || f.state === filter.state) &&
      (!filter.entityId || this.#flows.entityIds(f).has(filter.entityId))
    );
  }

  /** How many flows there are. */
  count(): number {
    return this.#flows.size;
  }

  /** Every entity a flow uses. */
  entityIds(flow: FlowRecord): Set<string> {
    return this.#flows.entityIds(flow);
  }

  /** Every module a flow uses, downstream first (the order StartFlow is called in). */
  modulesOf(flow: FlowRecord): string[] {
    return this.#flows.modulesOf(flow);
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
      targetProtocol: flow.targetProtocol,
      ...flow.mediaLimits,
      statuses: statuses ?? this.#flows.modulesOf(flow).flatMap((m) => {
        const s = flow.reported.get(m);
        return s ? [s] : [];
      }),
      createdAt: timestampFromDate(flow.createdAt),
      updatedAt: timestampFromDate(flow.updatedAt),
      health: this.watchdog.health(flow),
    });
  }

  /** The flow's live status on every module involved (GetFlowStatus, in parallel). */
  liveStatuses(flow: FlowRecord): Promise<FlowStatus[]> {
    return this.#monitorer.liveStatuses(flow);
  }

  /**
   * The cheapest path per media type between two entities through the converters of the
   * running modules, reaching the target over `targetProtocol` when given.
   */
  findPath(sourceId: string, targetId: string, targetProtocol = "") {
    const { entities } = this;
    return findFlowPaths({ caps: this.#caps, entities, sourceId, targetId, targetProtocol });
  }

  // ------------------------------------------------------------ flow commands

  /** Creates, builds and starts a flow. On failure the flow stays FAILED and is undone. */
  create(input: {
    sourceEntityId: string;
    targetEntityId: string;
    quality?: QualityProfile;
    id?: string;
    targetProtocol?: string;
    mediaLimits?: FlowMediaLimits;
  }): Promise<FlowRecord> {
    return this.#tasks.run(async () => {
      const quality = validateQuality(input.quality);
      const mediaLimits = validateMediaLimits(input.mediaLimits ?? {});
      const [source, target] = flowEnds(this.entities, input.sourceEntityId, input.targetEntityId);
      let id = input.id ?? "";
      if (id) {
        if (!ENTITY_ID_PATTERN.test(id)) {
          const why =
            `id "${id}" is not valid: use letters, digits, '.', '_' and '-' (at most 128)`;
          throw badRequest([{ field: "id", description: why }], why);
        }
        if (this.#flows.has(id)) {
          throw new RpcError(Code.ALREADY_EXISTS, `flow "${id}" already exists`);
        }
      } else id = this.#flows.uniqueId(`${source.id}-to-${target.id}`);
      for (const e of [source, target]) {
        if (!this.#caller.isRunning(e.module)) {
          throw new RpcError(
            Code.UNAVAILABLE,
            `entity "${e.id}" is OFFLINE: module "${e.module}" is not running (${
              this.#caller.describe(e.module)
            })`,
          );
        }
      }
      const targetProtocol = input.targetProtocol?.trim().toLowerCase() ?? "";
      const { paths } = this.findPath(source.id, target.id, targetProtocol);
      const now = new Date();
      const flow: FlowRecord = {
        id,
        sourceEntityId: source.id,
        targetEntityId: target.id,
        state: FlowState.UNSPECIFIED,
        message: "",
        wanted: true,
        quality,
        targetProtocol,
        mediaLimits,
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
      this.#flows.add(flow);
      this.#bus.publish({
        type: "flow.created",
        flowId: id,
        message: `flow "${id}" from "${source.id}" to "${target.id}": ${describeRoute(paths)}`,
        data: { sourceEntityId: source.id, targetEntityId: target.id },
      });
      this.#flows.setState(flow, FlowState.CREATING, `path found: ${describeRoute(paths)}`);
      try {
        await this.#builder.establish(flow, paths, []);
      } catch (err) {
        flow.wanted = false;
        const message = `${(err as Error).message}; everything made for the flow was undone`;
        this.#flows.setState(flow, FlowState.FAILED, message);
        const code = err instanceof RpcError ? err.code : Code.INTERNAL;
        throw new RpcError(code, `flow "${id}" failed: ${message}`);
      }
      this.#flows.setState(flow, FlowState.ACTIVE, "media flowing");
      return flow;
    });
  }

  /** Starts a STOPPED (or FAILED) flow again; rebuilds it when its connections are gone. */
  start(id: string): Promise<FlowRecord> {
    return this.#tasks.run(async () => {
      const flow = this.require(id);
      if (flow.wanted && flow.established && flow.state === FlowState.ACTIVE) return flow;
      // Started by hand: what the media watchdog left out of its paths may serve again.
      flow.avoid = undefined;
      flow.wanted = true;
      if (flow.established) {
        try {
          await this.#builder.startModules(flow, []);
          this.#flows.setState(flow, FlowState.ACTIVE, "started");
          return flow;
        } catch (err) {
          this.#logger.warn("restarting a flow failed; rebuilding it", {
            flow: id,
            error: (err as Error).message,
          });
          flow.established = false;
        }
      }
      this.#flows.setState(flow, FlowState.STARTING, "start requested: re-establishing");
      await this.#recovery.recover(flow);
      if (flow.state === FlowState.FAILED) {
        throw new RpcError(Code.FAILED_PRECONDITION, `flow "${id}" cannot start: ${flow.message}`);
      }
      return flow;
    });
  }

  /** Stops media on every module; the connections stay. */
  stop(id: string): Promise<FlowRecord> {
    return this.#tasks.run(async () => {
      const flow = this.require(id);
      flow.wanted = false;
      if (flow.established) await this.#builder.stopModules(flow);
      this.#flows.setState(flow, FlowState.STOPPED, "stopped on request");
      return flow;
    });
  }

  /**
   * Changes the flow's quality. Applied at once by every module of an established flow
   * (each confirms later with ReportStatus); otherwise when the flow next starts.
   */
  adjustQuality(id: string, requested: QualityProfile | undefined): Promise<FlowRecord> {
    return this.#tasks.run(async () => {
      const flow = this.require(id);
      const quality = validateQuality(requested);
      flow.quality = quality;
      flow.updatedAt = new Date();
      this.#flows.persist(flow);
      const failures: string[] = [];
      if (flow.established && flow.wanted) {
        for (const module of this.#flows.modulesOf(flow)) {
          try {
            const res = await this.#caller.call(
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
      this.#bus.publish({
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
    return this.#tasks.run(() => this.#deleteUnlocked(this.require(id)));
  }

  async #deleteUnlocked(flow: FlowRecord): Promise<void> {
    flow.wanted = false;
    await this.#builder.teardown(flow);
    for (const id of flow.converters) await this.#builder.destroyQuietly(id);
    this.#flows.remove(flow);
    this.watchdog.forget(flow.id);
    this.#bus.publish({
      type: "flow.deleted",
      flowId: flow.id,
      message: `flow "${flow.id}" deleted`,
    });
  }

  // ---------------------------------------------------------- entity commands

  /** Creates an entity (see EntityRegistry.create). */
  createEntity(input: CreateEntityInput): Promise<EntityRecord> {
    return this.#tasks.run(() => this.entities.create(input));
  }

  /** Changes an entity's configuration and/or name. */
  configureEntity(
    id: string,
    configuration?: Parameters<EntityRegistry["configure"]>[1],
    name?: string,
  ): Promise<EntityRecord> {
    return this.#tasks.run(() => this.entities.configure(id, configuration, name));
  }

  /**
   * Destroys an entity. FAILED_PRECONDITION naming the flows that use it, unless `force`
   * (then those flows are deleted first).
   */
  destroyEntity(id: string, force = false): Promise<void> {
    return this.#tasks.run(async () => {
      const entity = this.entities.require(id);
      const users = this.#flows.sorted().filter((f) => this.#flows.entityIds(f).has(id));
      if (users.length > 0 && !force) {
        const list = users.map((f) => `"${f.id}" (${flowStateName(f.state)})`).join(", ");
        throw new RpcError(
          Code.FAILED_PRECONDITION,
          `entity "${id}" is used by flow${users.length > 1 ? "s" : ""} ${list}: delete ${
            users.length > 1 ? "them" : "it"
          } first, or destroy with force=true to delete ${users.length > 1 ? "them" : "it"} too`,
        );
      }
      for (const flow of users) await this.#deleteUnlocked(flow);
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
    this.#monitorer.onModuleStatus(module, report);
  }

  /** True when no module still has to confirm the flow's last AdjustQuality. */
  qualityConfirmed(flow: FlowRecord): boolean {
    return flow.unconfirmed.size === 0;
  }

  /** Asks every module of every established flow for its status; lost flows are rebuilt. */
  monitor(): Promise<void> {
    return this.#monitorer.check();
  }
}
