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
 * The registry holds the index and the calls that change entities in their modules; the
 * record types are in `entity_record.ts`, the stored form in `entity_store.ts`, the proto
 * mapping in `entity_proto.ts`, the choice of a module in `entity_module_choice.ts` and
 * reconcile in `entity_reconcile.ts`.
 *
 * The calls that change an entity (create, configure, destroy, live status) stay together
 * here, past 400 lines, because each changes the module and the index in one step.
 *
 * Not synchronised: callers serialise mutations (see FlowManager).
 */
import { clone, create, type JsonObject } from "@bufbuild/protobuf";
import {
  type Entity,
  type EntityCapability,
  EntityOrigin,
  EntityState,
  type EntityStatus,
  EntityStatusSchema,
  Severity,
} from "@callassistant/protocol";
import { Code, RpcError } from "@callassistant/rpc";
import { configViolations } from "../config/schema_check.ts";
import { badRequest, describeViolations } from "../api_conventions/error_details.ts";
import { keepMaskedSecrets, secretPaths } from "../config/secrets.ts";
import type { EventBus } from "../events/event_bus.ts";
import type { Logger } from "../log/logger.ts";
import { type ModuleCaller, ModuleCallError } from "../module_calls/module_caller.ts";
import type { Collection } from "../store/store.ts";
import type { CapabilityIndex } from "./capabilities.ts";
import { chooseEntityModule } from "./entity_module_choice.ts";
import { keepFormats } from "./entity_formats.ts";
import { entityToProto } from "./entity_proto.ts";
import { reconcileEntities } from "./entity_reconcile.ts";
import {
  type CreateEntityInput,
  ENTITY_ID_PATTERN,
  type EntityFilter,
  type EntityRecord,
  entityStateName,
  isDesired,
  slug,
} from "./entity_record.ts";
import { loadedEntity, type StoredEntity, storedEntity } from "./entity_store.ts";

/** Deadline of a live status read. */
const STATUS_TIMEOUT_MS = 5_000;

/** Every entity, with the calls that create, change and destroy them in their modules. */
export class EntityRegistry {
  readonly #records = new Map<string, EntityRecord>();

  readonly #deps: {
    caps: CapabilityIndex;
    caller: ModuleCaller;
    bus: EventBus;
    logger: Logger;
    /** Where desired entities are persisted; in memory only when unset. */
    store?: Collection<StoredEntity>;
  };

  constructor(
    deps: {
      caps: CapabilityIndex;
      caller: ModuleCaller;
      bus: EventBus;
      logger: Logger;
      /** Where desired entities are persisted; in memory only when unset. */
      store?: Collection<StoredEntity>;
    },
  ) {
    this.#deps = deps;
  }

  /** Loads the persisted desired entities, OFFLINE until their module runs. */
  load(): number {
    for (const { value } of this.#deps.store?.list() ?? []) {
      this.#records.set(value.id, loadedEntity(value));
    }
    return this.#records.size;
  }

  /** The entity `id`, if known. */
  get(id: string): EntityRecord | undefined {
    return this.#records.get(id);
  }

  /** The entity `id`; NOT_FOUND when unknown. */
  require(id: string): EntityRecord {
    const r = this.#records.get(id);
    if (!r) throw new RpcError(Code.NOT_FOUND, `entity "${id}" not found`);
    return r;
  }

  /** Entities matching `filter`, sorted by id. */
  list(filter: EntityFilter = {}): EntityRecord[] {
    return [...this.#records.values()]
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
    return this.#records.size;
  }

  /** Dotted paths of the secret fields of an entity type's configuration schema. */
  #secretsOf(r: { module: string; entityType: string }): string[] {
    const schema = this.#deps.caps.find(r.module, r.entityType)?.configSchema;
    return schema ? secretPaths(schema as JsonObject) : [];
  }

  /** The entity as clients see it: secret configuration fields read "********". */
  toProto(r: EntityRecord, status = r.status): Entity {
    return entityToProto(r, this.#secretsOf(r), status);
  }

  /**
   * The module to create an `entityType` in: `module` when given (it must declare the
   * type), else the only module declaring it (see `entity_module_choice.ts`).
   */
  chooseModule(
    entityType: string,
    module?: string,
  ): { module: string; capability: EntityCapability } {
    return chooseEntityModule(this.#deps.caps, this.#deps.caller, entityType, module);
  }

  /** An unused id derived from `base`. */
  uniqueId(base: string): string {
    const root = slug(base) || "entity";
    if (!this.#records.has(root)) return root;
    for (let i = 2;; i++) {
      const id = `${root}-${i}`;
      if (!this.#records.has(id)) return id;
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
        const why = `id "${id}" is not valid: use letters, digits, '.', '_' and '-' (at ` +
          `most 128, starting with a letter or digit)`;
        throw badRequest([{ field: "id", description: why }], why);
      }
      if (this.#records.has(id)) {
        throw new RpcError(Code.ALREADY_EXISTS, `entity "${id}" already exists`);
      }
    } else id = this.uniqueId(input.name || input.entityType);
    const configuration = input.configuration ?? {};
    await this.#validate(capability, module, configuration);
    const name = input.name ?? "";
    const created = await this.#callCreate(module, id, input.entityType, name, configuration);
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
      this.#persist(record);
    } catch (err) {
      // Not stored (e.g. the disk is full): the module must not keep what the caller
      // was told failed.
      await this.#deps.caller.call(
        module,
        "DestroyEntity",
        (c, o) => c.entity.destroyEntity({ entityId: id }, o),
      ).catch(() => {});
      throw err;
    }
    this.#records.set(id, record);
    this.#deps.bus.publish({
      type: "entity.created",
      module,
      entityId: id,
      message: `entity "${id}" (${input.entityType}) created in module "${module}"`,
      data: { entityType: input.entityType, origin: EntityOrigin[input.origin] },
    });
    return record;
  }

  async #callCreate(
    module: string,
    id: string,
    entityType: string,
    name: string,
    configuration: JsonObject,
  ): Promise<Entity | undefined> {
    try {
      const res = await this.#deps.caller.call(
        module,
        "CreateEntity",
        (c, o) => c.entity.createEntity({ entityId: id, entityType, name, configuration }, o),
      );
      return res.entity;
    } catch (err) {
      throw this.#rejected(err, module, "configuration");
    }
  }

  /**
   * Checks a configuration against the entity type's JSON Schema, as module
   * configurations are checked: INVALID_ARGUMENT naming every bad field.
   */
  async #validate(
    capability: EntityCapability | undefined,
    module: string,
    configuration: JsonObject,
  ): Promise<void> {
    const schema = capability?.configSchema;
    if (!schema || Object.keys(schema).length === 0) return;
    const problems = await configViolations(schema, configuration);
    if (problems.length > 0) {
      throw badRequest(
        problems.map((p) => ({
          ...p,
          field: p.field ? `configuration.${p.field}` : "configuration",
        })),
        `invalid configuration for entity type "${capability.entityType}" of module ` +
          `"${module}": ${describeViolations(problems)}`,
      );
    }
  }

  /** A module's INVALID_ARGUMENT as a 400 carrying the module's own message. */
  #rejected(err: unknown, module: string, what: string): unknown {
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
      configuration = keepMaskedSecrets(configuration, r.configuration, this.#secretsOf(r));
      await this.#validate(this.#deps.caps.find(r.module, r.entityType), r.module, configuration);
    }
    const newName = name || r.name;
    if (configuration || this.#deps.caller.isRunning(r.module)) {
      let res;
      try {
        res = await this.#deps.caller.call(
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
        if (configuration || !unimplemented) throw this.#rejected(err, r.module, "configuration");
      }
      if (configuration) r.configuration = res?.entity?.configuration ?? configuration;
      if (res?.entity?.state) this.setState(r, res.entity.state, "");
      if (res?.entity?.status) r.status = keepFormats(r.status, res.entity.status);
    }
    r.name = newName;
    r.updatedAt = new Date();
    this.#persist(r);
    this.#deps.bus.publish({
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
    if (this.#deps.caller.isRunning(r.module)) {
      try {
        await this.#deps.caller.call(
          r.module,
          "DestroyEntity",
          (c, o) => c.entity.destroyEntity({ entityId: id }, o),
        );
      } catch (err) {
        const gone = err instanceof ModuleCallError && err.code === Code.NOT_FOUND;
        if (!gone && !force) throw err;
        if (!gone) {
          this.#deps.logger.warn("entity destroyed despite a module error", {
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
    if (!this.#records.has(r.id)) return;
    // Stored first: when the store fails, the entity stays as it was in both places.
    if (isDesired(r)) this.#deps.store?.delete(r.id);
    this.#records.delete(r.id);
    this.#deps.bus.publish({
      type: r.origin === EntityOrigin.DISCOVERED ? "entity.lost" : "entity.destroyed",
      module: r.module,
      entityId: r.id,
      message,
    });
  }

  /**
   * Brings the registry and a running module in line (see `entity_reconcile.ts`).
   * Returns the ids it could not recreate, with the module's error.
   */
  reconcile(module: string): Promise<Map<string, string>> {
    const { caller, logger, caps, bus } = this.#deps;
    return reconcileEntities({
      caller,
      logger,
      caps,
      bus,
      list: (filter) => this.list(filter),
      get: (id) => this.#records.get(id),
      add: (r) => this.#records.set(r.id, r),
      setState: (r, state, message) => this.setState(r, state, message),
      forget: (r, message) => this.forget(r, message),
      recreate: (r) => this.#callCreate(r.module, r.id, r.entityType, r.name, r.configuration),
    }, module);
  }

  /** Marks every entity of a module that stopped running OFFLINE. */
  setOffline(module: string, reason: string): void {
    for (const r of this.list({ module })) this.setState(r, EntityState.OFFLINE, reason);
  }

  /** The entity's live status from its module (OFFLINE when the module is not running). */
  async liveStatus(id: string): Promise<EntityStatus> {
    const r = this.require(id);
    const { caller } = this.#deps;
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
    const r = this.#records.get(status.entityId);
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
    this.#deps.bus.publish({
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

  /** Stores a desired entity (discovered ones are announced again by their module). */
  #persist(r: EntityRecord): void {
    if (isDesired(r)) this.#deps.store?.put(r.id, storedEntity(r));
  }
}
