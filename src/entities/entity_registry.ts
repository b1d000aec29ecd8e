/**
 * The entity registry: every entity the orchestrator knows and the module owning it.
 *
 * - Entities created through the orchestrator (origin CREATED) and converters created for
 *   flows (origin FLOW) are the desired state: persisted in the store and recreated with
 *   the same id, type, name and configuration whenever their module (re)starts.
 * - Entities a module finds on its own (origin DISCOVERED) come from its `ListEntities`,
 *   read when it becomes READY and when it reports an `entities.changed` event. They
 *   are not persisted: the module announces them again.
 *
 * Not synchronised: callers serialise mutations (see FlowManager).
 */
import { clone, create, type JsonObject } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type EntityCapability, EntityKind } from "@callassistant/protocol";
import {
  type Entity,
  EntityOrigin,
  EntitySchema,
  EntityState,
  type EntityStatus,
  EntityStatusSchema,
  Severity,
} from "@callassistant/protocol";
import type { EventBus } from "../events/event_bus.ts";
import type { Logger } from "../log/logger.ts";
import { keepMaskedSecrets, maskSecrets, secretPaths } from "../config/secrets.ts";
import { Code, RpcError } from "@callassistant/rpc";
import type { Collection } from "../store/store.ts";
import { configProblems } from "../config/schema_check.ts";
import type { CapabilityIndex } from "./capabilities.ts";
import { keepFormats } from "./entity_formats.ts";
import { type ModuleCaller, ModuleCallError } from "../module_calls/module_caller.ts";

/** What the registry knows about one entity. */
export interface EntityRecord {
  id: string;
  entityType: string;
  kind: EntityKind;
  module: string;
  name: string;
  configuration: JsonObject;
  origin: EntityOrigin;
  state: EntityState;
  /** Why the entity is in its state. */
  message: string;
  createdAt: Date;
  updatedAt: Date;
  /** The last live status the module gave. */
  status?: EntityStatus;
}

/** The persisted form of a desired entity. */
export interface StoredEntity {
  id: string;
  entityType: string;
  kind: number;
  module: string;
  name: string;
  configuration: JsonObject;
  origin: number;
  createdAt: string;
  updatedAt: string;
}

/** Filters of `list`; unset fields match everything. */
export interface EntityFilter {
  entityType?: string;
  kind?: EntityKind;
  module?: string;
  state?: EntityState;
}

/** A request to create an entity. */
export interface CreateEntityInput {
  entityType: string;
  name?: string;
  /** The module; chosen by capability when empty. */
  module?: string;
  configuration?: JsonObject;
  /** The id; generated when empty. */
  id?: string;
  origin: EntityOrigin.CREATED | EntityOrigin.FLOW;
}

/** Entity ids are used in URLs: letters, digits, '.', '_' and '-', at most 128. */
export const ENTITY_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** The event type a module reports when the entities it discovered changed. */
export const ENTITIES_CHANGED_EVENT = "entities.changed";

/** Deadline of a live status read. */
const STATUS_TIMEOUT_MS = 5_000;

function entityStateName(state: EntityState): string {
  return EntityState[state] ?? String(state);
}

function isDesired(r: EntityRecord): boolean {
  return r.origin === EntityOrigin.CREATED || r.origin === EntityOrigin.FLOW;
}

/** A readable id from a name or type: "Front door" -> "front-door". */
function slug(text: string): string {
  return text.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
    .replace(/[^a-z0-9._-]+/g, "-").replace(/^[^a-z0-9]+|-+$/g, "").slice(0, 120);
}

/** Every entity, with the calls that create, change and destroy them in their modules. */
export class EntityRegistry {
  private readonly records = new Map<string, EntityRecord>();

  constructor(
    private readonly deps: {
      caps: CapabilityIndex;
      caller: ModuleCaller;
      bus: EventBus;
      logger: Logger;
      /** Where desired entities are persisted; in memory only when unset. */
      store?: Collection<StoredEntity>;
    },
  ) {}

  /** Loads the persisted desired entities, OFFLINE until their module runs. */
  load(): number {
    for (const { value: s } of this.deps.store?.list() ?? []) {
      this.records.set(s.id, {
        id: s.id,
        entityType: s.entityType,
        kind: s.kind,
        module: s.module,
        name: s.name,
        configuration: s.configuration ?? {},
        origin: s.origin,
        state: EntityState.OFFLINE,
        message: `waiting for module "${s.module}"`,
        createdAt: new Date(s.createdAt),
        updatedAt: new Date(s.updatedAt),
      });
    }
    return this.records.size;
  }

  /** The entity `id`, if known. */
  get(id: string): EntityRecord | undefined {
    return this.records.get(id);
  }

  /** The entity `id`; NOT_FOUND when unknown. */
  require(id: string): EntityRecord {
    const r = this.records.get(id);
    if (!r) throw new RpcError(Code.NOT_FOUND, `entity "${id}" not found`);
    return r;
  }

  /** Entities matching `filter`, sorted by id. */
  list(filter: EntityFilter = {}): EntityRecord[] {
    return [...this.records.values()]
      .filter((r) =>
        (!filter.entityType || r.entityType === filter.entityType) &&
        (!filter.kind || r.kind === filter.kind) &&
        (!filter.module || r.module === filter.module) &&
        (!filter.state || r.state === filter.state)
      )
      .sort((a, b) => a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  }

  /** How many entities there are. */
  count(): number {
    return this.records.size;
  }

  /** Dotted paths of the secret fields of an entity type's configuration schema. */
  private secretsOf(r: { module: string; entityType: string }): string[] {
    const schema = this.deps.caps.find(r.module, r.entityType)?.configSchema;
    return schema ? secretPaths(schema as JsonObject) : [];
  }

  /** The entity as clients see it: secret configuration fields read "********". */
  toProto(r: EntityRecord, status = r.status): Entity {
    return create(EntitySchema, {
      id: r.id,
      entityType: r.entityType,
      kind: r.kind,
      module: r.module,
      name: r.name,
      state: r.state,
      configuration: maskSecrets(r.configuration, this.secretsOf(r)),
      origin: r.origin,
      status,
      createdAt: timestampFromDate(r.createdAt),
      updatedAt: timestampFromDate(r.updatedAt),
    });
  }

  /**
   * The module to create an `entityType` in: `module` when given (it must declare the
   * type), else the only module declaring it. INVALID_ARGUMENT for an unknown type
   * (listing the known ones) or an ambiguous choice (listing the candidates).
   */
  chooseModule(
    entityType: string,
    module?: string,
  ): { module: string; capability: EntityCapability } {
    const { caps } = this.deps;
    if (!entityType) throw new RpcError(Code.INVALID_ARGUMENT, "entity_type is required");
    const known = caps.knownTypes();
    const knownList = known.length
      ? known.map((t) => `${t.entityType} (${t.modules.join(", ")})`).join(", ")
      : "none (no module has registered any)";
    if (module) {
      if (!this.deps.caller.modules.state(module)) {
        throw new RpcError(Code.NOT_FOUND, `module "${module}" not found`);
      }
      const capability = caps.find(module, entityType);
      if (!capability) {
        const own = caps.of(module).map((c) => c.entityType);
        throw new RpcError(
          Code.INVALID_ARGUMENT,
          `module "${module}" does not provide entity type "${entityType}"; it provides: ${
            own.length ? own.join(", ") : "none (or it has not registered yet)"
          }`,
        );
      }
      return { module, capability };
    }
    const candidates = caps.providers(entityType);
    if (candidates.length === 0) {
      throw new RpcError(
        Code.INVALID_ARGUMENT,
        `unknown entity type "${entityType}"; known types: ${knownList}`,
      );
    }
    if (candidates.length > 1) {
      throw new RpcError(
        Code.INVALID_ARGUMENT,
        `entity type "${entityType}" is provided by several modules: ${
          candidates.join(", ")
        }; name one in "module"`,
      );
    }
    return { module: candidates[0], capability: caps.find(candidates[0], entityType)! };
  }

  /** An unused id derived from `base`. */
  uniqueId(base: string): string {
    const root = slug(base) || "entity";
    if (!this.records.has(root)) return root;
    for (let i = 2;; i++) {
      const id = `${root}-${i}`;
      if (!this.records.has(id)) return id;
    }
  }

  /**
   * Creates an entity in its module and records it. The module's INVALID_ARGUMENT
   * (a configuration it rejects) comes back with the module's own message.
   */
  async create(input: CreateEntityInput): Promise<EntityRecord> {
    const { module, capability } = this.chooseModule(input.entityType, input.module);
    let id = input.id ?? "";
    if (id) {
      if (!ENTITY_ID_PATTERN.test(id)) {
        throw new RpcError(
          Code.INVALID_ARGUMENT,
          `id "${id}" is not valid: use letters, digits, '.', '_' and '-' (at most 128, ` +
            `starting with a letter or digit)`,
        );
      }
      if (this.records.has(id)) {
        throw new RpcError(Code.ALREADY_EXISTS, `entity "${id}" already exists`);
      }
    } else id = this.uniqueId(input.name || input.entityType);
    const configuration = input.configuration ?? {};
    await this.validate(capability, module, configuration);
    const name = input.name ?? "";
    const created = await this.callCreate(module, id, input.entityType, name, configuration);
    const now = new Date();
    const record: EntityRecord = {
      id,
      entityType: input.entityType,
      kind: capability.kind,
      module,
      name,
      configuration: created?.configuration ?? configuration,
      origin: input.origin,
      state: created?.state || EntityState.READY,
      message: "",
      createdAt: now,
      updatedAt: now,
      status: created?.status,
    };
    try {
      this.persist(record);
    } catch (err) {
      // Not stored (e.g. the disk is full): the module must not keep what the caller
      // was told failed.
      await this.deps.caller.call(
        module,
        "DestroyEntity",
        (c, o) => c.entity.destroyEntity({ entityId: id }, o),
      ).catch(() => {});
      throw err;
    }
    this.records.set(id, record);
    this.deps.bus.publish({
      type: "entity.created",
      module,
      entityId: id,
      message: `entity "${id}" (${input.entityType}) created in module "${module}"`,
      data: { entityType: input.entityType, origin: EntityOrigin[input.origin] },
    });
    return record;
  }

  private async callCreate(
    module: string,
    id: string,
    entityType: string,
    name: string,
    configuration: JsonObject,
  ): Promise<Entity | undefined> {
    try {
      const res = await this.deps.caller.call(
        module,
        "CreateEntity",
        (c, o) => c.entity.createEntity({ entityId: id, entityType, name, configuration }, o),
      );
      return res.entity;
    } catch (err) {
      throw this.rejected(err, module, "configuration");
    }
  }

  /**
   * Checks a configuration against the entity type's JSON Schema, as module
   * configurations are checked: INVALID_ARGUMENT naming every bad field.
   */
  private async validate(
    capability: EntityCapability | undefined,
    module: string,
    configuration: JsonObject,
  ): Promise<void> {
    const schema = capability?.configSchema;
    if (!schema || Object.keys(schema).length === 0) return;
    const problems = await configProblems(schema, configuration);
    if (problems.length > 0) {
      throw new RpcError(
        Code.INVALID_ARGUMENT,
        `invalid configuration for entity type "${capability.entityType}" of module ` +
          `"${module}": ${problems.join("; ")}`,
      );
    }
  }

  /** A module's INVALID_ARGUMENT as a 400 carrying the module's own message. */
  private rejected(err: unknown, module: string, what: string): unknown {
    if (err instanceof ModuleCallError && err.code === Code.INVALID_ARGUMENT) {
      return new RpcError(
        Code.INVALID_ARGUMENT,
        `module "${module}" rejected the ${what}: ${err.reason}`,
      );
    }
    return err;
  }

  /**
   * Changes an entity's configuration and/or its name, through its module: a new
   * configuration needs the module running; a rename alone reaches the module when it
   * runs (and at its next CreateEntity otherwise).
   */
  async configure(id: string, configuration?: JsonObject, name?: string): Promise<EntityRecord> {
    const r = this.require(id);
    if (configuration) {
      // A secret sent back as "********" (as clients read it) keeps its stored value.
      configuration = keepMaskedSecrets(configuration, r.configuration, this.secretsOf(r));
      await this.validate(this.deps.caps.find(r.module, r.entityType), r.module, configuration);
    }
    const newName = name || r.name;
    if (configuration || this.deps.caller.isRunning(r.module)) {
      let res;
      try {
        res = await this.deps.caller.call(
          r.module,
          "ConfigureEntity",
          (c, o) =>
            c.entity.configureEntity({
              entityId: id,
              configuration: configuration ?? r.configuration,
              name: newName,
            }, o),
        );
      } catch (err) {
        // A module without ConfigureEntity can still be renamed here.
        const unimplemented = err instanceof ModuleCallError && err.code === Code.UNIMPLEMENTED;
        if (configuration || !unimplemented) throw this.rejected(err, r.module, "configuration");
      }
      if (configuration) r.configuration = res?.entity?.configuration ?? configuration;
      if (res?.entity?.state) this.setState(r, res.entity.state, "");
      if (res?.entity?.status) r.status = keepFormats(r.status, res.entity.status);
    }
    r.name = newName;
    r.updatedAt = new Date();
    this.persist(r);
    this.deps.bus.publish({
      type: "entity.updated",
      module: r.module,
      entityId: id,
      message: `entity "${id}" ${configuration ? "reconfigured" : "renamed"}`,
    });
    return r;
  }

  /**
   * Destroys an entity in its module (when it runs) and forgets it. With `force`, a
   * module that refuses or fails does not stop it.
   */
  async destroy(id: string, force = false): Promise<void> {
    const r = this.require(id);
    if (this.deps.caller.isRunning(r.module)) {
      try {
        await this.deps.caller.call(
          r.module,
          "DestroyEntity",
          (c, o) => c.entity.destroyEntity({ entityId: id }, o),
        );
      } catch (err) {
        const gone = err instanceof ModuleCallError && err.code === Code.NOT_FOUND;
        if (!gone && !force) throw err;
        if (!gone) {
          this.deps.logger.warn("entity destroyed despite a module error", {
            entity: id,
            module: r.module,
            error: (err as Error).message,
          });
        }
      }
    }
    this.forget(r, `entity "${id}" destroyed`);
  }

  /** Forgets an entity without calling its module (e.g. its module is down). */
  forget(r: EntityRecord, message: string): void {
    if (!this.records.has(r.id)) return;
    // Stored first: when the store fails, the entity stays as it was in both places.
    if (isDesired(r)) this.deps.store?.delete(r.id);
    this.records.delete(r.id);
    this.deps.bus.publish({
      type: r.origin === EntityOrigin.DISCOVERED ? "entity.lost" : "entity.destroyed",
      module: r.module,
      entityId: r.id,
      message,
    });
  }

  /**
   * Brings the registry and a running module in line: recreates the desired entities the
   * module lacks (same id, type, name and configuration), takes the state of the ones it
   * has, and adds or drops the entities it discovered. Returns the ids it could not
   * recreate, with the module's error.
   */
  async reconcile(module: string): Promise<Map<string, string>> {
    const { caller, logger, caps } = this.deps;
    const failed = new Map<string, string>();
    let listed: Entity[] = [];
    try {
      listed = (await caller.call(module, "ListEntities", (c, o) => c.entity.listEntities({}, o)))
        .entities;
    } catch (err) {
      if (!(err instanceof ModuleCallError) || err.code !== Code.UNIMPLEMENTED) {
        logger.warn("cannot list a module's entities", { module, error: (err as Error).message });
      }
    }
    const byId = new Map(listed.filter((e) => e.id).map((e) => [e.id, e]));
    for (const r of this.list({ module })) {
      if (!isDesired(r)) continue;
      const has = byId.get(r.id);
      if (has) {
        if (has.status) r.status = keepFormats(r.status, has.status);
        this.setState(r, has.state || EntityState.READY, "");
        continue;
      }
      try {
        const created = await this.callCreate(module, r.id, r.entityType, r.name, r.configuration);
        if (created?.status) r.status = keepFormats(r.status, created.status);
        this.setState(r, created?.state || EntityState.READY, `recreated in module "${module}"`);
      } catch (err) {
        const message = (err as Error).message;
        failed.set(r.id, message);
        this.setState(r, EntityState.FAILED, `cannot recreate: ${message}`);
      }
    }
    // Entities the module found on its own.
    for (const e of byId.values()) {
      const known = this.records.get(e.id);
      if (known) {
        if (known.module !== module) {
          logger.warn("a module announced an entity id another module owns; ignored", {
            module,
            entity: e.id,
            owner: known.module,
          });
        } else if (known.origin === EntityOrigin.DISCOVERED) {
          known.name = e.name || known.name;
          known.configuration = e.configuration ?? known.configuration;
          this.setState(known, e.state || EntityState.READY, "");
        }
        continue;
      }
      const kind = caps.find(module, e.entityType)?.kind ?? e.kind ?? EntityKind.UNSPECIFIED;
      const now = new Date();
      const r: EntityRecord = {
        id: e.id,
        entityType: e.entityType,
        kind,
        module,
        name: e.name,
        configuration: e.configuration ?? {},
        origin: EntityOrigin.DISCOVERED,
        state: e.state || EntityState.READY,
        message: "",
        createdAt: now,
        updatedAt: now,
        status: e.status,
      };
      this.records.set(r.id, r);
      this.deps.bus.publish({
        type: "entity.discovered",
        module,
        entityId: r.id,
        message: `module "${module}" discovered entity "${r.id}" (${r.entityType})`,
        data: { entityType: r.entityType, name: r.name },
      });
    }
    for (const r of this.list({ module })) {
      if (r.origin === EntityOrigin.DISCOVERED && !byId.has(r.id)) {
        this.forget(r, `module "${module}" no longer lists entity "${r.id}"`);
      }
    }
    return failed;
  }

  /** Marks every entity of a module that stopped running OFFLINE. */
  setOffline(module: string, reason: string): void {
    for (const r of this.list({ module })) this.setState(r, EntityState.OFFLINE, reason);
  }

  /** The entity's live status from its module (OFFLINE when the module is not running). */
  async liveStatus(id: string): Promise<EntityStatus> {
    const r = this.require(id);
    const { caller } = this.deps;
    if (!caller.isRunning(r.module)) {
      return create(EntityStatusSchema, {
        entityId: id,
        state: EntityState.OFFLINE,
        message: `module "${r.module}" is not running (${caller.describe(r.module)})`,
      });
    }
    try {
      const res = await caller.call(
        r.module,
        "GetEntityStatus",
        (c, o) => c.entity.getEntityStatus({ entityId: id }, o),
        STATUS_TIMEOUT_MS,
      );
      const status = res.status
        ? clone(EntityStatusSchema, res.status)
        : create(EntityStatusSchema);
      status.entityId = id;
      if (status.state) this.setState(r, status.state, status.message);
      r.status = keepFormats(r.status, status);
      return r.status;
    } catch (err) {
      const lost = err instanceof ModuleCallError && err.code === Code.NOT_FOUND;
      return create(EntityStatusSchema, {
        entityId: id,
        state: lost ? EntityState.FAILED : r.state,
        message: lost
          ? `module "${r.module}" does not know this entity`
          : `status unavailable: ${(err as Error).message}`,
      });
    }
  }

  /** Takes an entity status a module reported (ReportStatus); ignores other modules' ids. */
  applyStatus(module: string, status: EntityStatus): void {
    const r = this.records.get(status.entityId);
    if (!r || r.module !== module) return;
    r.status = keepFormats(r.status, status);
    if (status.state) this.setState(r, status.state, status.message);
  }

  /** Changes the state, publishing `entity.state_changed` when it differs. */
  setState(r: EntityRecord, state: EntityState, message: string): void {
    const from = r.state;
    r.message = message;
    if (from === state) return;
    r.state = state;
    r.updatedAt = new Date();
    const bad = state === EntityState.FAILED || state === EntityState.OFFLINE;
    this.deps.bus.publish({
      type: "entity.state_changed",
      severity: bad ? Severity.WARNING : Severity.INFO,
      module: r.module,
      entityId: r.id,
      message: `entity "${r.id}": ${entityStateName(from)} -> ${entityStateName(state)}${
        message ? `: ${message}` : ""
      }`,
      data: { from: entityStateName(from), to: entityStateName(state), reason: message },
    });
  }

  private persist(r: EntityRecord): void {
    if (!isDesired(r)) return;
    this.deps.store?.put(r.id, {
      id: r.id,
      entityType: r.entityType,
      kind: r.kind,
      module: r.module,
      name: r.name,
      configuration: r.configuration,
      origin: r.origin,
      createdAt: r.createdAt.toISOString(),
      updatedAt: r.updatedAt.toISOString(),
    });
  }
}
