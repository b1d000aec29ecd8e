/**
 * JSON Schemas of proto messages, enums and well-known types in the proto3 JSON mapping,
 * for the OpenAPI document.
 */
import {
  type DescEnum,
  type DescField,
  type DescMessage,
  type JsonObject,
  ScalarType,
} from "@bufbuild/protobuf";

/** A reference to the component schema `name`. */
export function ref(name: string): JsonObject {
  return { $ref: `#/components/schemas/${name}` };
}

/** The JSON schema of a scalar in the proto3 JSON mapping (64-bit integers as strings). */
export function scalarSchema(scalar: ScalarType): JsonObject {
  switch (scalar) {
    case ScalarType.DOUBLE:
      return { type: "number", format: "double" };
    case ScalarType.FLOAT:
      return { type: "number", format: "float" };
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return { type: "string", format: "int64" };
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return { type: "string", format: "uint64" };
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return { type: "integer", format: "int32" };
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return { type: "integer", format: "int64", minimum: 0, maximum: 4294967295 };
    case ScalarType.BOOL:
      return { type: "boolean" };
    case ScalarType.BYTES:
      return { type: "string", contentEncoding: "base64" };
    default:
      return { type: "string" };
  }
}

const WRAPPERS: Record<string, ScalarType> = {
  "google.protobuf.DoubleValue": ScalarType.DOUBLE,
  "google.protobuf.FloatValue": ScalarType.FLOAT,
  "google.protobuf.Int64Value": ScalarType.INT64,
  "google.protobuf.UInt64Value": ScalarType.UINT64,
  "google.protobuf.Int32Value": ScalarType.INT32,
  "google.protobuf.UInt32Value": ScalarType.UINT32,
  "google.protobuf.BoolValue": ScalarType.BOOL,
  "google.protobuf.StringValue": ScalarType.STRING,
  "google.protobuf.BytesValue": ScalarType.BYTES,
};

/** Inline schemas of well-known types with a special JSON form. */
export function wellKnownSchema(typeName: string): JsonObject | undefined {
  switch (typeName) {
    case "google.protobuf.Timestamp":
      return { type: "string", format: "date-time" };
    case "google.protobuf.Duration":
      return {
        type: "string",
        pattern: "^-?[0-9]+(\\.[0-9]{1,9})?s$",
        description: 'A duration in seconds with an "s" suffix, e.g. "1.5s".',
      };
    case "google.protobuf.Struct":
      return { type: "object", additionalProperties: true };
    case "google.protobuf.Value":
      return {};
    case "google.protobuf.ListValue":
      return { type: "array", items: {} };
    case "google.protobuf.Empty":
      return { type: "object" };
    case "google.protobuf.FieldMask":
      return { type: "string", description: "Comma-separated lowerCamelCase field paths." };
    case "google.protobuf.Any":
      return {
        type: "object",
        properties: { "@type": { type: "string" } },
        required: ["@type"],
        additionalProperties: true,
      };
  }
  const wrapped = WRAPPERS[typeName];
  return wrapped === undefined ? undefined : scalarSchema(wrapped);
}

/** Whether one query string value can set a field of this message type. */
export function stringSettable(typeName: string): boolean {
  return typeName in WRAPPERS ||
    ["google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.FieldMask"]
      .includes(typeName);
}

/**
 * Builds the component schemas of messages and enums as operations reach them, with
 * descriptions from the proto comments.
 */
export class SchemaBuilder {
  readonly schemas: JsonObject = {};

  constructor(readonly comments: Map<string, string>) {}

  describe(schema: JsonObject, name: string): JsonObject {
    const text = this.comments.get(name);
    return text ? { ...schema, description: text } : schema;
  }

  enumRef(desc: DescEnum): JsonObject {
    if (desc.typeName === "google.protobuf.NullValue") return { type: "null" };
    if (!(desc.typeName in this.schemas)) {
      const lines = desc.values
        .map((v) => [v.name, this.comments.get(`${desc.typeName}.${v.name}`)])
        .filter(([, text]) => text)
        .map(([name, text]) => `- \`${name}\`: ${text}`);
      const intro = this.comments.get(desc.typeName) ?? "";
      this.schemas[desc.typeName] = {
        type: "string",
        enum: desc.values.map((v) => v.name),
        ...(intro || lines.length ? { description: [intro, ...lines].join("\n") } : {}),
      };
    }
    return ref(desc.typeName);
  }

  messageRef(desc: DescMessage): JsonObject {
    const wkt = wellKnownSchema(desc.typeName);
    if (wkt) return wkt;
    if (!(desc.typeName in this.schemas)) {
      this.schemas[desc.typeName] = {}; // placeholder, for recursive types
      this.schemas[desc.typeName] = this.messageSchema(desc);
    }
    return ref(desc.typeName);
  }

  messageSchema(desc: DescMessage, omit: ReadonlySet<string> = new Set()): JsonObject {
    const properties: JsonObject = {};
    for (const field of desc.fields) {
      if (!omit.has(field.name)) properties[field.jsonName] = this.fieldSchema(field);
    }
    const oneofs = desc.oneofs.map((o) =>
      `Only one of ${o.fields.map((f) => `\`${f.jsonName}\``).join(", ")} is set.`
    );
    const text = [this.comments.get(desc.typeName) ?? "", ...oneofs].filter((t) => t).join("\n\n");
    return { type: "object", ...(text ? { description: text } : {}), properties };
  }

  valueSchema(field: DescField): JsonObject {
    if (field.enum) return this.enumRef(field.enum);
    if (field.message) return this.messageRef(field.message);
    return field.scalar === undefined ? {} : scalarSchema(field.scalar);
  }

  fieldSchema(field: DescField): JsonObject {
    const name = `${field.parent.typeName}.${field.name}`;
    switch (field.fieldKind) {
      case "list":
        return this.describe({ type: "array", items: this.valueSchema(field) }, name);
      case "map":
        return this.describe(
          { type: "object", additionalProperties: this.valueSchema(field) },
          name,
        );
      default:
        return this.describe(this.valueSchema(field), name);
    }
  }
}
