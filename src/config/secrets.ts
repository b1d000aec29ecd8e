/**
 * Secret fields of a module's configuration schema (`writeOnly: true` or
 * `format: "password"`): they are stored, and sent to the module, but never returned to
 * clients or logged in clear.
 */
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";

/** What a secret reads as. */
export const MASK = "********";

function isObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isSecret(schema: JsonObject): boolean {
  return schema.writeOnly === true || schema.format === "password";
}

/** Dotted paths of the secret properties declared in `schema` (nested objects included). */
export function secretPaths(schema: JsonObject | undefined, prefix = ""): string[] {
  const props = schema?.properties;
  if (!isObject(props)) return [];
  return Object.entries(props).flatMap(([key, sub]) => {
    if (!isObject(sub)) return [];
    const path = prefix ? `${prefix}.${key}` : key;
    return isSecret(sub) ? [path] : secretPaths(sub, path);
  });
}

function get(obj: JsonObject, path: string[]): JsonValue | undefined {
  let cur: JsonValue | undefined = obj;
  for (const key of path) cur = isObject(cur) ? cur[key] : undefined;
  return cur;
}

function set(obj: JsonObject, path: string[], value: JsonValue | undefined): void {
  let cur = obj;
  for (const key of path.slice(0, -1)) {
    if (!isObject(cur[key])) return;
    cur = cur[key] as JsonObject;
  }
  const last = path[path.length - 1];
  if (value === undefined) delete cur[last];
  else cur[last] = value;
}

/** A copy of `config` with every present secret replaced by MASK. */
export function maskSecrets(config: JsonObject, secrets: string[]): JsonObject {
  const copy = structuredClone(config);
  for (const path of secrets) {
    const keys = path.split(".");
    if (get(copy, keys) !== undefined) set(copy, keys, MASK);
  }
  return copy;
}

/** A copy of `incoming` where secrets given as MASK take their value from `stored`. */
export function keepMaskedSecrets(
  incoming: JsonObject,
  stored: JsonObject | undefined,
  secrets: string[],
): JsonObject {
  const copy = structuredClone(incoming);
  for (const path of secrets) {
    const keys = path.split(".");
    if (get(copy, keys) === MASK) set(copy, keys, stored ? get(stored, keys) : undefined);
  }
  return copy;
}
