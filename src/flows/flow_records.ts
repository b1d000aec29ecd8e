/**
 * The flows the orchestrator knows: their records, their state machine and their
 * persistence.
 *
 * States: CREATING -> STARTING -> ACTIVE; STOPPED on request; DEGRADED while part of the
 * path is down and the flow is being re-established or re-routed; FAILED when it could
 * not be built or recovered. Every change is a `flow.state_changed` event, and keeps the
 * state of the entities the flow uses (ACTIVE while carrying media, READY otherwise).
 */
import {
  clone,
  create,
  fromJson,
  type JsonObject,
  type JsonValue,
  toJson,
} from "@bufbuild/protobuf";
import {
  type Connection,
  EntityState,
  FlowState,
  type FlowStatus,
  FlowStatusSchema,
  type MediaPath,
  MediaPathSchema,
  type QualityProfile,
  QualityProfileSchema,
  Severity,
} from "@callassistant/protocol";
import type { EventBus } from "../events/event_bus.ts";
import type { Logger } from "../log/logger.ts";
import type { Collection } from "../store/store.ts";
import type { EntityRegistry } from "../entities/entity_registry.ts";
import { type FlowMediaLimits, restoreMediaLimits, storedMediaLimits } from "./flow_media.ts";
import type { RouteAvoid } from "./flow_paths.ts";

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
  /** The protocol the target must receive on; empty for any. */
  targetProtocol: string;
  /** The stall, first-frame and latency limits asked at creation. */
  mediaLimits: FlowMediaLimits;
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
  /** What re-routes leave out, after the media watchdog saw it fail (in memory only). */
  avoid?: RouteAvoid;
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
  targetProtocol?: string;
  mediaLimits?: JsonObject;
  paths: JsonValue[];
  converters: string[];
  discovered?: string[];
  createdAt: string;
  updatedAt: string;
}

/** The name of a flow state ("ACTIVE"), for messages. */
export function flowStateName(state: FlowState): string {
  return FlowState[state] ?? String(state);
}

/** A copy of `base` (or an empty status) with `fields` set. */
export function statusWith(base: FlowStatus | undefined, fields: Partial<FlowStatus>): FlowStatus {
  const status = base ? clone(FlowStatusSchema, base) : create(FlowStatusSchema);
  return Object.assign(status, fields);
}

/** What the flow records need. */
export interface FlowRecordsOptions {
  entities: EntityRegistry;
  bus: EventBus;
  logger: Logger;
  /** Where flows are persisted; in memory only when unset. */
  store?: Collection<StoredFlow>;
}

/** Every known flow by id, with the state changes and persistence of each. */
export class FlowRecords {
  readonly #flows = new Map<string, FlowRecord>();

  readonly #options: FlowRecordsOptions;

  constructor(options: FlowRecordsOptions) {
    this.#options = options;
  }

  /**
   * Loads the persisted flows. Flows that should run become DEGRADED (waiting for their
   * modules); the others STOPPED, unless they FAILED.
   */
  restore(): void {
    for (const { value: s } of this.#options.store?.list() ?? []) {
      const flow: FlowRecord = {
        id: s.id,
        sourceEntityId: s.sourceEntityId,
        targetEntityId: s.targetEntityId,
        state: s.state,
        message: s.message,
        wanted: s.wanted,
        quality: fromJson(QualityProfileSchema, s.quality ?? {}, { ignoreUnknownFields: true }),
        targetProtocol: s.targetProtocol ?? "",
        mediaLimits: restoreMediaLimits(s.mediaLimits),
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
      this.#flows.set(flow.id, flow);
      if (flow.wanted) {
        this.setState(flow, FlowState.DEGRADED, "orchestrator restarted: waiting for the modules");
      } else if (flow.state !== FlowState.FAILED) {
        this.setState(flow, FlowState.STOPPED, flow.message);
      }
    }
  }

  /** The flow `id`, if known. */
  get(id: string): FlowRecord | undefined {
    return this.#flows.get(id);
  }

  /** True when the flow `id` is known. */
  has(id: string): boolean {
    return this.#flows.has(id);
  }

  /** How many flows there are. */
  get size(): number {
    return this.#flows.size;
  }

  /** Adds a new flow (persisted at its first state change). */
  add(flow: FlowRecord): void {
    this.#flows.set(flow.id, flow);
  }

  /** Forgets a flow and its persisted form, and frees the entities it kept ACTIVE. */
  remove(flow: FlowRecord): void {
    this.#flows.delete(flow.id);
    this.#options.store?.delete(flow.id);
    this.#updateEntityStates(flow);
  }

  /** Every flow, sorted by id. */
  sorted(): FlowRecord[] {
    return [...this.#flows.values()].sort((a, b) => a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  }

  /** A free flow id made from `base` ("cam-to-tv", then "cam-to-tv-2", ...). */
  uniqueId(base: string): string {
    const root = base.toLowerCase().replace(/[^a-z0-9._-]+/g, "-").replace(/^[^a-z0-9]+/, "")
      .slice(0, 100) || "flow";
    if (!this.#flows.has(root)) return root;
    for (let i = 2;; i++) if (!this.#flows.has(`${root}-${i}`)) return `${root}-${i}`;
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
    add(this.#options.entities.get(flow.targetEntityId)?.module);
    for (const p of flow.paths) for (const h of [...p.hops].reverse()) add(h.module);
    add(this.#options.entities.get(flow.sourceEntityId)?.module);
    return order;
  }

  /** True when the flow uses the module. */
  involves(flow: FlowRecord, module: string): boolean {
    return this.modulesOf(flow).includes(module);
  }

  /** The module of an entity of the flow, from its path or else from the registry. */
  moduleOfEntity(flow: FlowRecord, entityId: string): string | undefined {
    for (const p of flow.paths) {
      for (const h of p.hops) if (h.entityId === entityId) return h.module;
    }
    return this.#options.entities.get(entityId)?.module;
  }

  /** Moves the flow to `state` (an event and a log line when it changes) and persists it. */
  setState(flow: FlowRecord, state: FlowState, message: string): void {
    const from = flow.state;
    flow.message = message;
    flow.updatedAt = new Date();
    if (from !== state) {
      flow.state = state;
      this.#options.logger.log(state === FlowState.FAILED ? "warn" : "info", "flow state changed", {
        flow: flow.id,
        from: flowStateName(from),
        to: flowStateName(state),
        reason: message,
      });
      this.#options.bus.publish({
        type: "flow.state_changed",
        severity: state === FlowState.FAILED
          ? Severity.ERROR
          : state === FlowState.DEGRADED
          ? Severity.WARNING
          : Severity.INFO,
        flowId: flow.id,
        message: `flow "${flow.id}": ${flowStateName(from)} -> ${flowStateName(state)}${
          message ? `: ${message}` : ""
        }`,
        data: { from: flowStateName(from), to: flowStateName(state), reason: message },
      });
      this.#updateEntityStates(flow);
    }
    this.persist(flow);
  }

  /** Writes the flow to the store (when it is still known). */
  persist(flow: FlowRecord): void {
    if (!this.#flows.has(flow.id)) return;
    this.#options.store?.put(flow.id, {
      id: flow.id,
      sourceEntityId: flow.sourceEntityId,
      targetEntityId: flow.targetEntityId,
      state: flow.state,
      message: flow.message,
      wanted: flow.wanted,
      quality: toJson(QualityProfileSchema, flow.quality),
      targetProtocol: flow.targetProtocol,
      mediaLimits: storedMediaLimits(flow.mediaLimits),
      paths: flow.paths.map((p) => toJson(MediaPathSchema, p)),
      converters: flow.converters,
      discovered: flow.discovered,
      createdAt: flow.createdAt.toISOString(),
      updatedAt: flow.updatedAt.toISOString(),
    });
  }

  /**
   * An entity carries media (ACTIVE) while an ACTIVE flow uses it, and is READY again
   * when none does; other entity states (OFFLINE, FAILED, ...) are the modules' word.
   */
  #updateEntityStates(flow: FlowRecord): void {
    const { entities } = this.#options;
    for (const id of this.entityIds(flow)) {
      const e = entities.get(id);
      if (!e || (e.state !== EntityState.READY && e.state !== EntityState.ACTIVE)) continue;
      const active = [...this.#flows.values()].some((f) =>
        f.state === FlowState.ACTIVE && f.established && this.entityIds(f).has(id)
      );
      const state = active ? EntityState.ACTIVE : EntityState.READY;
      if (e.state !== state) {
        entities.setState(e, state, active ? "carrying media" : "no active flow");
      }
    }
  }
}
