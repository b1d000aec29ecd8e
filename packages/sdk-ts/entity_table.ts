/**
 * `EntityTable`: the entities of one type a module creates, kept in memory, and the five
 * EntityService handlers over them (create, configure, status, destroy, list), so a
 * module that needs nothing more writes none of them.
 *
 * ```ts
 * const screens = new EntityTable({
 *   entityType: "screen",
 *   kind: EntityKind.SINK,
 *   active: (id) => flows.isActive(id),     // ACTIVE while on a running flow
 *   onDestroy: (id) => flows.dropEntity(id),
 * });
 * await serveModule({ ..., entity: screens.handlers() });
 * ```
 *
 * Creating an id that exists answers that entity again (a restarted orchestrator creates
 * its entities again); a rename (`name` in ConfigureEntity) reaches the entry; an unknown
 * id is NOT_FOUND naming it; an entity type other than the table's is INVALID_ARGUMENT.
 * The orchestrator checks configurations against the capability's `config_schema`
 * before they come here; `configure` may check more (throw INVALID_ARGUMENT).
 */
import type { JsonObject, MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type EntityKind, type EntitySchema, EntityState } from "@callassistant/protocol";
import { Code, RpcError } from "@callassistant/rpc";
import type { EntityHandlers } from "./module.ts";

/** One entity of the table. */
export interface EntityEntry {
  id: string;
  name: string;
  configuration: JsonObject;
  createdAt: Date;
  updatedAt: Date;
}

/** What differs between modules. */
export interface EntityTableOptions {
  /** The entity type (the capability's `entityType`). */
  entityType: string;
  kind: EntityKind;
  /** True while the entity is on a running flow: it is ACTIVE then, else READY. */
  active?: (id: string) => boolean;
  /** Checks a configuration before it is stored; throw an RpcError to refuse it. */
  configure?: (configuration: JsonObject, entry: EntityEntry | undefined) => void;
  /** Told after an entity was destroyed (e.g. `flows.dropEntity`). */
  onDestroy?: (id: string) => void;
}

/** Entities of one type and the EntityService over them. */
export class EntityTable {
  /** The entities by id. */
  readonly entries: Map<string, EntityEntry> = new Map();
  readonly #options: EntityTableOptions;

  constructor(options: EntityTableOptions) {
    this.#options = options;
  }

  /** True when the entity exists. */
  has(id: string): boolean {
    return this.entries.has(id);
  }

  /** The entity; NOT_FOUND naming it when there is none. */
  find(id: string): EntityEntry {
    const entry = this.entries.get(id);
    if (!entry) {
      throw new RpcError(Code.NOT_FOUND, `no ${this.#options.entityType} "${id}" on this module`);
    }
    return entry;
  }

  /** The entity as the contract's `Entity`. */
  entity(id: string): MessageInitShape<typeof EntitySchema> {
    const e = this.find(id);
    return {
      id,
      entityType: this.#options.entityType,
      kind: this.#options.kind,
      name: e.name,
      state: this.#state(id),
      configuration: e.configuration,
      createdAt: timestampFromDate(e.createdAt),
      updatedAt: timestampFromDate(e.updatedAt),
    };
  }

  #state(id: string): EntityState {
    return this.#options.active?.(id) ? EntityState.ACTIVE : EntityState.READY;
  }

  /** The five EntityService handlers. */
  handlers(): EntityHandlers {
    return {
      createEntity: (req) => {
        if (!req.entityId) throw new RpcError(Code.INVALID_ARGUMENT, "entity_id is required");
        if (req.entityType !== this.#options.entityType) {
          throw new RpcError(
            Code.INVALID_ARGUMENT,
            `unknown entity type "${req.entityType}"; this module provides: ${this.#options.entityType}`,
          );
        }
        if (!this.entries.has(req.entityId)) {
          const configuration = req.configuration ?? {};
          this.#options.configure?.(configuration, undefined);
          const now = new Date();
          this.entries.set(req.entityId, {
            id: req.entityId,
            name: req.name,
            configuration,
            createdAt: now,
            updatedAt: now,
          });
        }
        return { entity: this.entity(req.entityId) };
      },
      configureEntity: (req) => {
        const e = this.find(req.entityId);
        const configuration = req.configuration ?? {};
        this.#options.configure?.(configuration, e);
        e.configuration = configuration;
        e.name = req.name || e.name;
        e.updatedAt = new Date();
        return { entity: this.entity(req.entityId) };
      },
      getEntityStatus: (req) => {
        this.find(req.entityId);
        return { status: { entityId: req.entityId, state: this.#state(req.entityId) } };
      },
      destroyEntity: (req) => {
        this.find(req.entityId);
        this.entries.delete(req.entityId);
        this.#options.onDestroy?.(req.entityId);
        return {};
      },
      listEntities: () => ({ entities: [...this.entries.keys()].map((id) => this.entity(id)) }),
    };
  }
}
