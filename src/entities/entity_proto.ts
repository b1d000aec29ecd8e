/** An entity record as clients see it (the `Entity` message), secrets masked. */
import { create, type JsonObject } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type Entity, EntitySchema } from "@callassistant/protocol";
import { maskSecrets } from "../config/secrets.ts";
import type { EntityRecord } from "./entity_record.ts";

/**
 * The `Entity` message of a record: the configuration fields at `secretPaths` read
 * "********"; `status` is the record's last one unless given.
 */
export function entityToProto(
  r: EntityRecord,
  secretPaths: string[],
  status = r.status,
): Entity {
  return create(EntitySchema, {
    id: r.id,
    entityType: r.entityType,
    kind: r.kind,
    module: r.module,
    name: r.name,
    state: r.state,
    configuration: maskSecrets(r.configuration as JsonObject, secretPaths),
    origin: r.origin,
    status,
    createdAt: timestampFromDate(r.createdAt),
    updatedAt: timestampFromDate(r.updatedAt),
  });
}
