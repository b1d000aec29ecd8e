/**
 * What the orchestrator knows about one entity (its record), the filters and requests
 * over records, and the small rules on them (which records are desired state, how ids
 * look and are derived from names).
 */
import type { JsonObject } from "@bufbuild/protobuf";
import {
  type EntityKind,
  EntityOrigin,
  EntityState,
  type EntityStatus,
} from "@callassistant/protocol";

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

/** A state name without the enum prefix, e.g. "READY". */
export function entityStateName(state: EntityState): string {
  return EntityState[state] ?? String(state);
}

/**
 * True for the desired state (created through the orchestrator or for a flow): persisted
 * and recreated; discovered entities are announced again by their module.
 */
export function isDesired(r: EntityRecord): boolean {
  return r.origin === EntityOrigin.CREATED || r.origin === EntityOrigin.FLOW;
}

/** A readable id from a name or type: "Front door" -> "front-door". */
export function slug(text: string): string {
  return text.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
    .replace(/[^a-z0-9._-]+/g, "-").replace(/^[^a-z0-9]+|-+$/g, "").slice(0, 120);
}
