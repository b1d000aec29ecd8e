/**
 * How desired entities are persisted: the stored form of a record and back. A loaded
 * entity is OFFLINE until its module runs and reconcile recreates it there.
 */
import type { JsonObject } from "@bufbuild/protobuf";
import { EntityState } from "@callassistant/protocol";
import type { EntityRecord } from "./entity_record.ts";

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

/** The stored form of a (desired) entity. */
export function storedEntity(r: EntityRecord): StoredEntity {
  return {
    id: r.id,
    entityType: r.entityType,
    kind: r.kind,
    module: r.module,
    name: r.name,
    configuration: r.configuration,
    origin: r.origin,
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
  };
}

/** The record of a stored entity, OFFLINE until its module runs. */
export function loadedEntity(s: StoredEntity): EntityRecord {
  return {
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
  };
}
