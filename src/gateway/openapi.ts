/**
 * The OpenAPI 3.1 description of the gateway, generated from the same descriptors and
 * `google.api.http` annotations as its routes. Schemas follow the proto3 JSON mapping;
 * descriptions come from the proto comments kept in a FileDescriptorSet.
 *
 * Past 400 lines on purpose: the JSON Schemas of every proto field kind (scalars, enums,
 * maps, well-known types) and the operations of every route build one document, read top
 * to bottom.
 */
import {
  type DescField,
  type DescMessage,
  type DescService,
  fromBinary,
  type JsonObject,
  type JsonValue,
} from "@bufbuild/protobuf";
import { base64Decode } from "@bufbuild/protobuf/wire";
import {
  type DescriptorProto,
  type EnumDescriptorProto,
  FileDescriptorSetSchema,
} from "@bufbuild/protobuf/wkt";
import { SESSION_COOKIE } from "../security/auth.ts";
import { buildRoutes, type Route } from "./route_table.ts";
import { ref, SchemaBuilder, stringSettable, wellKnownSchema } from "./openapi_schemas.ts";
import { ERROR_SCHEMA, errorRef, errorResponses, operationErrors } from "./openapi_errors.ts";

/** The `info` of the document. */
export interface OpenApiInfo {
  /** Default "Call Assistant". */
  readonly title?: string;
  /** Default "v1". */
  readonly version?: string;
  /** A description for the whole API. */
  readonly description?: string;
}

/** Leading (else trailing) comments by full name: `pkg.Msg`, `pkg.Msg.field`, `pkg.Svc.Rpc`. */
export function commentsFromDescriptorSet(base64: string): Map<string, string> {
  const out = new Map<string, string>();
  const set = fromBinary(FileDescriptorSetSchema, base64Decode(base64));
  for (const file of set.file) {
    const byPath = new Map<string, string>();
    for (const loc of file.sourceCodeInfo?.location ?? []) {
      const text = cleanComment(loc.leadingComments || loc.trailingComments);
      if (text) byPath.set(loc.path.join("."), text);
    }
    const put = (name: string, path: number[]) => {
      const text = byPath.get(path.join("."));
      if (text) out.set(name, text);
    };
    const enumType = (e: EnumDescriptorProto, name: string, path: number[]) => {
      put(name, path);
      e.value.forEach((v, i) => put(`${name}.${v.name}`, [...path, 2, i]));
    };
    const messageType = (m: DescriptorProto, name: string, path: number[]) => {
      put(name, path);
      m.field.forEach((f, i) => put(`${name}.${f.name}`, [...path, 2, i]));
      m.nestedType.forEach((n, i) => messageType(n, `${name}.${n.name}`, [...path, 3, i]));
      m.enumType.forEach((n, i) => enumType(n, `${name}.${n.name}`, [...path, 4, i]));
    };
    const pkg = file.package ? `${file.package}.` : "";
    file.messageType.forEach((m, i) => messageType(m, pkg + m.name, [4, i]));
    file.enumType.forEach((e, i) => enumType(e, pkg + e.name, [5, i]));
    file.service.forEach((s, i) => {
      put(pkg + s.name, [6, i]);
      s.method.forEach((m, j) => put(`${pkg}${s.name}.${m.name}`, [6, i, 2, j]));
    });
  }
  return out;
}

function cleanComment(text: string): string {
  return text.split("\n").map((line) => line.replace(/^ /, "").trimEnd()).join("\n").trim();
}

/** The first sentence (or line) of a comment. */
function summaryOf(text: string): string {
  const line = text.split("\n\n")[0].replace(/\n/g, " ");
  const end = line.search(/\.(\s|$)/);
  return end >= 0 ? line.slice(0, end + 1) : line;
}

/** The OpenAPI path of a template: variables as `{field.path}`, the verb kept. */
function openApiPath(route: Route): string {
  const t = route.template;
  const parts: string[] = [];
  for (let i = 0; i < t.segments.length;) {
    const v = t.variables.find((x) => x.start === i);
    if (v) {
      parts.push(`{${v.fieldPath.join(".")}}`);
      i = Math.max(v.end, i + 1);
      continue;
    }
    const seg = t.segments[i];
    parts.push(seg.kind === "literal" ? seg.value : seg.kind === "wildcard" ? "*" : "**");
    i++;
  }
  return `/${parts.join("/")}${t.verb === undefined ? "" : `:${t.verb}`}`;
}

function fieldAt(desc: DescMessage, path: readonly string[]): DescField | undefined {
  let current: DescMessage | undefined = desc;
  let field: DescField | undefined;
  for (const name of path) {
    field = current?.fields.find((f) => f.name === name || f.jsonName === name);
    if (!field) return undefined;
    current = field.message;
  }
  return field;
}

/** Query parameters for the fields of a request, nested fields with dots (up to 3 deep). */
function queryParameters(
  b: SchemaBuilder,
  desc: DescMessage,
  exclude: ReadonlySet<string>,
  prefix: readonly DescField[] = [],
  seen: ReadonlySet<string> = new Set([desc.typeName]),
): JsonObject[] {
  const params: JsonObject[] = [];
  for (const field of desc.fields) {
    const path = [...prefix, field];
    if (exclude.has(path.map((f) => f.name).join("."))) continue;
    if (field.fieldKind === "map") continue;
    const message = field.message;
    if (message && !stringSettable(message.typeName)) {
      const nested = field.fieldKind === "message" && !wellKnownSchema(message.typeName) &&
        !seen.has(message.typeName) && prefix.length < 3;
      if (nested) {
        params.push(
          ...queryParameters(b, message, exclude, path, new Set([...seen, message.typeName])),
        );
      }
      continue;
    }
    const { description, ...schema } = b.fieldSchema(field);
    params.push({
      name: path.map((f) => f.jsonName).join("."),
      in: "query",
      required: false,
      schema,
      ...(typeof description === "string" ? { description } : {}),
    });
  }
  return params;
}

function operation(b: SchemaBuilder, route: Route, operationId: string): JsonObject {
  const { service, method } = route;
  const fullName = `${service.typeName}.${method.name}`;
  const comment = b.comments.get(fullName) ?? "";
  const parameters: JsonObject[] = [];
  const pathFields = new Set<string>();
  for (const v of route.template.variables) {
    const field = fieldAt(method.input, v.fieldPath);
    const dotted = v.fieldPath.join(".");
    pathFields.add(dotted);
    const schema = field ? b.fieldSchema(field) : { type: "string" };
    const { description, ...rest } = schema;
    parameters.push({
      name: dotted,
      in: "path",
      required: true,
      schema: rest,
      ...(typeof description === "string" ? { description } : {}),
    });
  }
  const op: JsonObject = {
    operationId,
    tags: [service.name],
    summary: comment ? summaryOf(comment) : `${service.name}.${method.name}`,
    ...(comment && comment !== summaryOf(comment) ? { description: comment } : {}),
  };
  if (route.body === "") {
    parameters.push(...queryParameters(b, method.input, pathFields));
  } else if (route.body === "*") {
    const topLevel = new Set(
      route.template.variables.filter((v) => v.fieldPath.length === 1).map((v) => v.fieldPath[0]),
    );
    const schema = topLevel.size
      ? b.messageSchema(method.input, topLevel)
      : b.messageRef(method.input);
    op.requestBody = { required: false, content: { "application/json": { schema } } };
  } else {
    const field = fieldAt(method.input, [route.body]);
    if (field) {
      pathFields.add(field.name);
      op.requestBody = {
        required: false,
        content: { "application/json": { schema: b.fieldSchema(field) } },
      };
    }
    parameters.push(...queryParameters(b, method.input, pathFields));
  }
  if (parameters.length) op.parameters = parameters;

  let schema: JsonObject = b.messageRef(method.output);
  if (route.responseBody !== "") {
    const field = fieldAt(method.output, [route.responseBody]);
    if (field) schema = b.fieldSchema(field);
  }
  const outComment = b.comments.get(method.output.typeName) ?? "OK";
  op.responses = {
    "200": method.methodKind === "server_streaming"
      ? {
        description: `${outComment}\n\nA stream: one JSON object per line ` +
          "(`application/x-ndjson`), or Server-Sent Events with `Accept: text/event-stream` " +
          "(each item a `data:` line, with an `id:` line when the item has an event id or " +
          "a log sequence; send `Last-Event-ID` to resume). An error after the stream " +
          'started is a last item `{"error": {...}}`, or an SSE `event: error`.',
        content: {
          "application/x-ndjson": { schema },
          "text/event-stream": { schema: { type: "string" } },
        },
      }
      : { description: outComment, content: { "application/json": { schema } } },
    ...operationErrors({
      httpMethod: route.httpMethod,
      hasPathVariables: route.template.variables.length > 0,
      hasBody: route.body !== "",
      secured: true,
    }),
    default: {
      description: "An error, with the gRPC status code mapped to the HTTP status.",
      content: { "application/json": { schema: ref(ERROR_SCHEMA) } },
    },
  };
  return op;
}

const STANDARD_METHODS = new Set(["get", "put", "post", "delete", "patch", "head", "options"]);

/**
 * The OpenAPI 3.1 document of the gateway for these services: every route of
 * {@link buildRoutes} (annotated and RPC-style), with path and query parameters, request
 * and response schemas, and descriptions from the comments in `descriptorSetBase64` (a
 * FileDescriptorSet with source info) when given.
 */
export function openApiDocument(
  services: readonly DescService[],
  descriptorSetBase64?: string,
  info: OpenApiInfo = {},
): JsonObject {
  const comments = descriptorSetBase64
    ? commentsFromDescriptorSet(descriptorSetBase64)
    : new Map<string, string>();
  const b = new SchemaBuilder(comments);
  const paths: Record<string, JsonObject> = {};
  const ids = new Map<string, number>();
  for (const route of buildRoutes(services)) {
    const verb = route.httpMethod.toLowerCase();
    if (!STANDARD_METHODS.has(verb)) continue;
    const base = `${route.service.name}_${route.method.name}${route.annotated ? "" : "_rpc"}`;
    const n = ids.get(base) ?? 0;
    ids.set(base, n + 1);
    const path = openApiPath(route);
    paths[path] ??= {};
    paths[path][verb] = operation(b, route, n === 0 ? base : `${base}_${n + 1}`);
  }
  const status = (text: string): JsonObject => ({
    type: "object",
    properties: { status: { type: "string", examples: [text] } },
  });
  // The open routes: `security: []` overrides the document's bearer requirement.
  paths["/healthz"] = {
    get: {
      operationId: "healthz",
      tags: ["health"],
      summary: "Liveness: always 200 while the process serves requests.",
      security: [],
      responses: { "200": jsonContent("Alive.", status("ok")), "403": errorRef("403") },
    },
  };
  paths["/readyz"] = {
    get: {
      operationId: "readyz",
      tags: ["health"],
      summary: "Readiness: 200 when the orchestrator is ready, else 503.",
      security: [],
      responses: {
        "200": jsonContent("Ready.", status("ready")),
        "403": errorRef("403"),
        "503": jsonContent("Not ready.", status("not ready")),
      },
    },
  };
  paths["/v1/session"] = sessionPaths();
  b.schemas[ERROR_SCHEMA] = {
    type: "object",
    description: "An error: the gRPC status code, a message for people, and details.",
    properties: {
      code: { type: "integer", format: "int32", description: "The gRPC status code." },
      message: { type: "string" },
      details: { type: "array", items: {} },
    },
    required: ["code", "message", "details"],
  };
  const tags: JsonValue[] = services.map((s) => ({
    name: s.name,
    ...(comments.has(s.typeName) ? { description: comments.get(s.typeName) } : {}),
  }));
  return {
    openapi: "3.1.0",
    info: {
      title: info.title ?? "Call Assistant",
      version: info.version ?? "v1",
      ...(info.description ? { description: info.description } : {}),
    },
    servers: [
      { url: "/", description: "The gateway that serves this document." },
      { url: "http://127.0.0.1:8080", description: "The default listener (`--http`)." },
    ],
    security: [{ bearerAuth: [] }, { sessionCookie: [] }],
    tags: [...tags, { name: "health", description: "Liveness and readiness, always open." }, {
      name: "session",
      description: "The dashboard's sign-in, always open.",
    }],
    paths,
    components: {
      schemas: b.schemas,
      responses: errorResponses(),
      securitySchemes: SECURITY_SCHEMES,
    },
  };
}

/**
 * How clients authenticate. Authentication is on when a listener is beyond loopback
 * (unless `--insecure`); on loopback nothing is asked, and the schemes are not checked.
 */
const SECURITY_SCHEMES: JsonObject = {
  bearerAuth: {
    type: "http",
    scheme: "bearer",
    description: "The access token from `<data>/auth-token` (made on the first start), as " +
      "`Authorization: Bearer <token>`.",
  },
  sessionCookie: {
    type: "apiKey",
    in: "cookie",
    name: SESSION_COOKIE,
    description: "The dashboard's session cookie, set by `POST /v1/session`.",
  },
};

/** `POST` and `DELETE /v1/session`: the dashboard's sign-in, open without credentials. */
function sessionPaths(): JsonObject {
  const noContent = { description: "Done; the cookie is set (or cleared)." };
  return {
    post: {
      operationId: "session_create",
      tags: ["session"],
      summary: "Signs in: checks the token and sets the session cookie.",
      security: [],
      requestBody: {
        required: true,
        content: {
          "application/json": {
            schema: {
              type: "object",
              properties: { token: { type: "string", description: "The access token." } },
              required: ["token"],
            },
          },
        },
      },
      responses: {
        "204": noContent,
        "400": errorRef("400"),
        "401": errorRef("401"),
        "403": errorRef("403"),
      },
    },
    delete: {
      operationId: "session_delete",
      tags: ["session"],
      summary: "Signs out: clears the session cookie.",
      security: [],
      responses: { "204": noContent, "403": errorRef("403") },
    },
  };
}

function jsonContent(description: string, schema: JsonObject): JsonObject {
  return { description, content: { "application/json": { schema } } };
}
