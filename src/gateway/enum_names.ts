/**
 * Short enum names in query strings: `?state=READY` means `MODULE_STATE_READY`, as the
 * dashboard, the metrics and the events already show states without their prefix. The
 * full name (and the number) keep working; anything else is left for the JSON decoder to
 * refuse with the list of valid names.
 */
import type { DescEnum } from "@bufbuild/protobuf";

/** The full value name for a short one (`READY` of ModuleState), else `raw` unchanged. */
export function fullEnumName(desc: DescEnum, raw: string): string {
  if (desc.values.some((v) => v.name === raw)) return raw;
  // `sharedPrefix` is the prefix all names share, in lower case ("module_state_").
  const prefix = desc.sharedPrefix?.toUpperCase();
  const full = prefix ? prefix + raw : undefined;
  return full && desc.values.some((v) => v.name === full) ? full : raw;
}
