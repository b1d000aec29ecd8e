/**
 * The fields of request messages as the gateway addresses them: by proto or JSON name,
 * by dotted path, and which of them one string (a path variable or query value) can set.
 */
import type { DescField, DescMessage } from "@bufbuild/protobuf";

/** The field `name` (proto or JSON name) of a message. */
export function findField(message: DescMessage, name: string): DescField | undefined {
  return message.fields.find((f) => f.name === name) ??
    message.fields.find((f) => f.jsonName === name);
}

/** Message types a single string (a path or query value) can set. */
export const STRING_SETTABLE = new Set([
  "google.protobuf.Timestamp",
  "google.protobuf.Duration",
  "google.protobuf.FieldMask",
  "google.protobuf.DoubleValue",
  "google.protobuf.FloatValue",
  "google.protobuf.Int64Value",
  "google.protobuf.UInt64Value",
  "google.protobuf.Int32Value",
  "google.protobuf.UInt32Value",
  "google.protobuf.BoolValue",
  "google.protobuf.StringValue",
  "google.protobuf.BytesValue",
]);

/** Well-known types whose JSON form is not an object of their fields. */
export const SPECIAL_JSON = new Set([
  ...STRING_SETTABLE,
  "google.protobuf.Any",
  "google.protobuf.Struct",
  "google.protobuf.Value",
  "google.protobuf.ListValue",
  "google.protobuf.NullValue",
]);

/** Resolves a dotted field path through singular message fields; a string on failure. */
export function resolvePath(message: DescMessage, path: readonly string[]): DescField[] | string {
  const fields: DescField[] = [];
  let current: DescMessage = message;
  for (let i = 0; i < path.length; i++) {
    const field = findField(current, path[i]);
    if (!field) return `${current.typeName} has no field "${path[i]}"`;
    fields.push(field);
    if (i < path.length - 1) {
      if (field.fieldKind !== "message" || SPECIAL_JSON.has(field.message.typeName)) {
        return `${field.parent.typeName}.${field.name} has no subfields`;
      }
      current = field.message;
    }
  }
  return fields;
}

/** Whether a single string value can set the field (scalars, enums, string-like WKTs). */
export function settableFromString(field: DescField, repeated: boolean): boolean {
  switch (field.fieldKind) {
    case "scalar":
    case "enum":
      return true;
    case "message":
      return STRING_SETTABLE.has(field.message.typeName);
    case "list":
      return repeated &&
        (field.listKind !== "message" || STRING_SETTABLE.has(field.message.typeName));
    default:
      return false;
  }
}
