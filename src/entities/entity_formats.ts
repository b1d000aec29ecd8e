/**
 * The formats an entity really sends or takes (`EntityStatus.formats`, see `ProbedFormats`
 * in media.proto): a module reports them when they change, so a status without them keeps
 * the last ones. The path-finder's use of them is not here.
 */
import { clone } from "@bufbuild/protobuf";
import { type EntityStatus, EntityStatusSchema } from "@callassistant/protocol";

/** `next`, carrying `previous`'s probed formats when it has none of its own. */
export function keepFormats(
  previous: EntityStatus | undefined,
  next: EntityStatus,
): EntityStatus {
  if (next.formats || !previous?.formats) return next;
  const status = clone(EntityStatusSchema, next);
  status.formats = previous.formats;
  return status;
}
