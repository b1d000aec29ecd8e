/**
 * Reconcile: after a module (re)starts or announces `entities.changed`, the registry and
 * the module are brought in line (desired entities recreated with the same id, the
 * module's discovered entities added or dropped).
 */
import type { Entity } from "@callassistant/protocol";
import { EntityKind, EntityOrigin, EntityState } from "@callassistant/protocol";
import { Code } from "@callassistant/rpc";
import type { EventBus } from "../events/event_bus.ts";
import type { Logger } from "../log/logger.ts";
import { type ModuleCaller, ModuleCallError } from "../module_calls/module_caller.ts";
import type { CapabilityIndex } from "./capabilities.ts";
import { type EntityFilter, type EntityRecord, isDesired } from "./entity_record.ts";
import { keepFormats } from "./entity_formats.ts";

/** What reconcile reads and changes: the entity registry's index and its services. */
export interface ReconcileIndex {
  caller: ModuleCaller;
  logger: Logger;
  caps: CapabilityIndex;
  bus: EventBus;
  list(filter: EntityFilter): EntityRecord[];
  get(id: string): EntityRecord | undefined;
  /** Adds a discovered entity to the index. */
  add(r: EntityRecord): void;
  setState(r: EntityRecord, state: EntityState, message: string): void;
  forget(r: EntityRecord, message: string): void;
  /** Creates a desired entity in its module again; the module's entity, if it returned one. */
  recreate(r: EntityRecord): Promise<Entity | undefined>;
}

/**
 * Brings the registry and a running module in line: recreates the desired entities the
 * module lacks (same id, type, name and configuration), takes the state of the ones it
 * has, and adds or drops the entities it discovered. Returns the ids it could not
 * recreate, with the module's error.
 */
export async function reconcileEntities(
  index: ReconcileIndex,
  module: string,
): Promise<Map<string, string>> {
  const { caller, logger, caps } = index;
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
  for (const r of index.list({ module })) {
    if (!isDesired(r)) continue;
    const has = byId.get(r.id);
    if (has) {
      if (has.status) r.status = keepFormats(r.status, has.status);
      index.setState(r, has.state || EntityState.READY, "");
      continue;
    }
    try {
      const created = await index.recreate(r);
      if (created?.status) r.status = keepFormats(r.status, created.status);
      index.setState(r, created?.state || EntityState.READY, `recreated in module "${module}"`);
    } catch (err) {
      const message = (err as Error).message;
      failed.set(r.id, message);
      index.setState(r, EntityState.FAILED, `cannot recreate: ${message}`);
    }
  }
  // Entities the module found on its own.
  for (const e of byId.values()) {
    const known = index.get(e.id);
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
        index.setState(known, e.state || EntityState.READY, "");
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
    index.add(r);
    index.bus.publish({
      type: "entity.discovered",
      module,
      entityId: r.id,
      message: `module "${module}" discovered entity "${r.id}" (${r.entityType})`,
      data: { entityType: r.entityType, name: r.name },
    });
  }
  for (const r of index.list({ module })) {
    if (r.origin === EntityOrigin.DISCOVERED && !byId.has(r.id)) {
      index.forget(r, `module "${module}" no longer lists entity "${r.id}"`);
    }
  }
  return failed;
}
