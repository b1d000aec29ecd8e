/**
 * gRPC transcoding for the HTTP/JSON gateway, derived from the `google.api.http`
 * annotations of the service descriptors: path template parsing and matching, and the
 * decoding of path variables, query parameters and the JSON body into a request message
 * (proto3 canonical JSON mapping). One generic transcoder serves every RPC; nothing here
 * knows a particular service.
 */
import {
  create,
  type DescField,
  type DescMessage,
  type DescMethod,
  type DescService,
  fromJson,
  getOption,
  hasOption,
  type JsonObject,
  type JsonValue,
  type Message,
  type MessageInitShape,
  type Registry,
  ScalarType,
} from "@bufbuild/protobuf";
import { http } from "@callassistant/protocol/google/api/annotations";
import type { HttpRule } from "@callassistant/protocol/google/api/http";
import { Code, RpcError } from "@callassistant/rpc";
import { badRequest } from "./error_details.ts";
import { fullEnumName } from "./enum_names.ts";

/** One segment of a path template. */
export type TemplateSegment =
  /** A fixed segment, compared after percent-decoding the request path. */
  | { readonly kind: "literal"; readonly value: string }
  /** `*`: exactly one non-empty segment. */
  | { readonly kind: "wildcard" }
  /** `**`: zero or more segments; only allowed last. */
  | { readonly kind: "deep" };

/** A `{field.path=...}` variable, bound to the template segments `[start, end)`. */
export interface TemplateVariable {
  /** The request field it sets, e.g. `["name"]` or `["parent", "id"]`. */
  readonly fieldPath: readonly string[];
  /** Index of the first template segment it covers. */
  readonly start: number;
  /** Index after the last template segment it covers. */
  readonly end: number;
}

/** A parsed `google.api.http` path template, e.g. `/v1/modules/{name}:restart`. */
export interface PathTemplate {
  /** The template text as written in the proto. */
  readonly source: string;
  /** The segments between slashes, variables expanded to what they match. */
  readonly segments: readonly TemplateSegment[];
  /** The variables, in order. */
  readonly variables: readonly TemplateVariable[];
  /** The custom verb after the last segment (`restart` for `...:restart`), if any. */
  readonly verb: string | undefined;
}

/** Path variable values by dotted field path (`"name"`, `"parent.id"`). */
export type PathVariables = Readonly<Record<string, string>>;

/** One HTTP route of an RPC. */
export interface Route {
  /** The HTTP method, upper case (`GET`, `POST`, or a custom verb's kind). */
  readonly httpMethod: string;
  /** The path template. */
  readonly template: PathTemplate;
  /** `"*"` for the whole request from the body, a top-level field name, or `""` for none. */
  readonly body: string;
  /** The top-level response field sent as the body; `""` for the whole response. */
  readonly responseBody: string;
  /** The service of the RPC. */
  readonly service: DescService;
  /** The RPC. */
  readonly method: DescMethod;
  /** False for the RPC-style `POST /<package>.<Service>/<Method>` route every RPC has. */
  readonly annotated: boolean;
}

/** The outcome of {@link matchRoute}. */
export type RouteMatch =
  | { readonly kind: "found"; readonly route: Route; readonly variables: PathVariables }
  | { readonly kind: "method_not_allowed"; readonly allowed: readonly string[] }
  | { readonly kind: "not_found" };

/** The parts of an HTTP request that {@link decodeRequest} turns into a request message. */
export interface HttpRequestParts {
  /** Path variables, from {@link matchRoute}. */
  readonly variables: PathVariables;
  /** The query parameters. */
  readonly query: URLSearchParams;
  /** The request body text; empty or absent for none. */
  readonly body?: string;
}

/** Options of {@link decodeRequest}. */
export interface DecodeOptions {
  /** Needed to read `google.protobuf.Any` fields. */
  readonly registry?: Registry;
}

// ---------------------------------------------------------------------------------------
// Path templates

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Parses a path template (`/v1/{name=projects/*}/items/{item}:verb`). Throws an Error
 * describing the first problem for an invalid template.
 */
export function parseTemplate(source: string): PathTemplate {
  const fail = (why: string): never => {
    throw new Error(`invalid path template "${source}": ${why}`);
  };
  if (!source.startsWith("/")) fail("it must start with '/'");

  // The verb follows the last ':' outside braces that comes after the last '/'.
  let depth = 0;
  let lastSlash = -1;
  let colon = -1;
  for (let i = 0; i < source.length; i++) {
    const ch = source[i];
    if (ch === "{") depth++;
    else if (ch === "}") depth--;
    else if (depth === 0 && ch === "/") {
      lastSlash = i;
      colon = -1;
    } else if (depth === 0 && ch === ":" && i > lastSlash) colon = i;
    if (depth < 0 || depth > 1) fail("unbalanced braces");
  }
  if (depth !== 0) fail("unbalanced braces");
  let verb: string | undefined;
  let path = source;
  if (colon >= 0) {
    verb = source.slice(colon + 1);
    path = source.slice(0, colon);
    if (verb === "" || /[/{}*]/.test(verb)) fail(`bad verb "${verb}"`);
  }

  const segments: TemplateSegment[] = [];
  const variables: TemplateVariable[] = [];
  const rest = path.slice(1);
  if (rest !== "") {
    // Split on '/' outside braces.
    const parts: string[] = [];
    let current = "";
    depth = 0;
    for (const ch of rest) {
      if (ch === "{") depth++;
      if (ch === "}") depth--;
      if (ch === "/" && depth === 0) {
        parts.push(current);
        current = "";
      } else current += ch;
    }
    parts.push(current);
    for (const part of parts) {
      if (part.startsWith("{")) {
        if (!part.endsWith("}")) fail(`bad variable "${part}"`);
        const inner = part.slice(1, -1);
        const eq = inner.indexOf("=");
        const name = eq < 0 ? inner : inner.slice(0, eq);
        const fieldPath = name.split(".");
        if (!fieldPath.every((p) => IDENT.test(p))) fail(`bad field path "${name}"`);
        if (variables.some((v) => v.fieldPath.join(".") === name)) {
          fail(`variable "${name}" appears twice`);
        }
        const start = segments.length;
        if (eq < 0) segments.push({ kind: "wildcard" });
        else {
          const sub = inner.slice(eq + 1);
          if (sub === "") fail(`empty pattern for variable "${name}"`);
          for (const s of sub.split("/")) segments.push(plainSegment(s, fail));
        }
        variables.push({ fieldPath, start, end: segments.length });
      } else segments.push(plainSegment(part, fail));
    }
  }
  const deep = segments.findIndex((s) => s.kind === "deep");
  if (deep >= 0 && deep !== segments.length - 1) fail("'**' must be the last segment");
  return { source, segments, variables, verb };
}

function plainSegment(text: string, fail: (why: string) => never): TemplateSegment {
  if (text === "*") return { kind: "wildcard" };
  if (text === "**") return { kind: "deep" };
  if (text === "") fail("empty segment");
  if (/[{}*=]/.test(text)) fail(`bad segment "${text}"`);
  return { kind: "literal", value: text };
}

function decodeSegment(raw: string): string | undefined {
  if (!raw.includes("%")) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

/** Decodes a multi-segment variable value, keeping encoded slashes (`%2F`) encoded. */
function decodeMulti(raw: string): string | undefined {
  const pieces = raw.split(/%2F/i).map(decodeSegment);
  return pieces.some((p) => p === undefined) ? undefined : pieces.join("%2F");
}

/** A request path split into segments once, each segment decoded on first use. */
class SplitPath {
  /** The segments between slashes, still percent-encoded; undefined when not absolute. */
  readonly parts: readonly string[] | undefined;
  readonly #decoded: (string | null | undefined)[] = [];

  constructor(readonly path: string) {
    this.parts = !path.startsWith("/") ? undefined : path === "/" ? [] : path.slice(1).split("/");
  }

  /** Segment `i` percent-decoded; undefined when it is not valid percent-encoding. */
  decoded(i: number): string | undefined {
    let d = this.#decoded[i];
    if (d === undefined) d = this.#decoded[i] = decodeSegment(this.parts![i]) ?? null;
    return d ?? undefined;
  }
}

/** The path without one trailing slash. */
function trimSlash(pathname: string): string {
  return pathname.length > 1 && pathname.endsWith("/") ? pathname.slice(0, -1) : pathname;
}

/** Whether `path` ends with `:verb`. */
function hasVerb(path: string, verb: string): boolean {
  return path.length > verb.length && path[path.length - verb.length - 1] === ":" &&
    path.endsWith(verb);
}

/** Matches split path segments (the verb already removed) against a template. */
function matchParts(template: PathTemplate, split: SplitPath): PathVariables | undefined {
  const parts = split.parts;
  if (!parts) return undefined;
  const segs = template.segments;
  const deep = segs.length > 0 && segs[segs.length - 1].kind === "deep";
  if (deep ? parts.length < segs.length - 1 : parts.length !== segs.length) return undefined;
  for (let i = 0; i < segs.length; i++) {
    const seg = segs[i];
    if (seg.kind === "deep") break;
    if (seg.kind === "wildcard") {
      if (parts[i] === "") return undefined;
    } else if (split.decoded(i) !== seg.value) return undefined;
  }
  const variables: Record<string, string> = {};
  for (const v of template.variables) {
    const single = v.end - v.start === 1 && segs[v.start].kind !== "deep";
    let value: string | undefined;
    if (single) value = split.decoded(v.start);
    else {
      const end = deep && v.end === segs.length ? parts.length : v.end;
      value = decodeMulti(parts.slice(v.start, end).join("/"));
    }
    if (value === undefined) return undefined;
    variables[v.fieldPath.join(".")] = value;
  }
  return variables;
}

/**
 * Matches a request path (still percent-encoded, as in `URL.pathname`) against a
 * template. Returns the variable values, or undefined when the path does not match. One
 * trailing slash is ignored.
 */
export function matchTemplate(template: PathTemplate, pathname: string): PathVariables | undefined {
  let path = trimSlash(pathname);
  if (template.verb !== undefined) {
    if (!hasVerb(path, template.verb)) return undefined;
    path = path.slice(0, -template.verb.length - 1);
  }
  return matchParts(template, new SplitPath(path));
}

// ---------------------------------------------------------------------------------------
// Routes

function findField(message: DescMessage, name: string): DescField | undefined {
  return message.fields.find((f) => f.name === name) ??
    message.fields.find((f) => f.jsonName === name);
}

/** Message types a single string (a path or query value) can set. */
const STRING_SETTABLE = new Set([
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
const SPECIAL_JSON = new Set([
  ...STRING_SETTABLE,
  "google.protobuf.Any",
  "google.protobuf.Struct",
  "google.protobuf.Value",
  "google.protobuf.ListValue",
  "google.protobuf.NullValue",
]);

/** Resolves a dotted field path through singular message fields; a string on failure. */
function resolvePath(message: DescMessage, path: readonly string[]): DescField[] | string {
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
function settableFromString(field: DescField, repeated: boolean): boolean {
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

function ruleRoutes(
  service: DescService,
  method: DescMethod,
  rule: HttpRule,
  nested: boolean,
): Route[] {
  const where = `${service.typeName}.${method.name}`;
  let httpMethod: string;
  let path: string;
  switch (rule.pattern.case) {
    case "get":
    case "put":
    case "post":
    case "delete":
    case "patch":
      httpMethod = rule.pattern.case.toUpperCase();
      path = rule.pattern.value;
      break;
    case "custom":
      httpMethod = rule.pattern.value.kind.toUpperCase();
      path = rule.pattern.value.path;
      break;
    default:
      throw new Error(`${where}: google.api.http rule without a pattern`);
  }
  let template: PathTemplate;
  try {
    template = parseTemplate(path);
  } catch (err) {
    throw new Error(`${where}: ${(err as Error).message}`);
  }
  for (const v of template.variables) {
    const fields = resolvePath(method.input, v.fieldPath);
    if (typeof fields === "string") {
      throw new Error(`${where}: path variable "${v.fieldPath.join(".")}": ${fields}`);
    }
    if (!settableFromString(fields[fields.length - 1], false)) {
      throw new Error(`${where}: path variable "${v.fieldPath.join(".")}" is not a scalar`);
    }
  }
  if (rule.body !== "" && rule.body !== "*" && !findField(method.input, rule.body)) {
    throw new Error(`${where}: body field "${rule.body}" is not in ${method.input.typeName}`);
  }
  if (rule.responseBody !== "" && !findField(method.output, rule.responseBody)) {
    throw new Error(
      `${where}: response_body field "${rule.responseBody}" is not in ${method.output.typeName}`,
    );
  }
  const routes: Route[] = [{
    httpMethod,
    template,
    body: rule.body,
    responseBody: rule.responseBody,
    service,
    method,
    annotated: true,
  }];
  if (!nested) {
    for (const extra of rule.additionalBindings) {
      routes.push(...ruleRoutes(service, method, extra, true));
    }
  }
  return routes;
}

function segmentRank(seg: TemplateSegment | undefined): number {
  if (seg === undefined) return 3;
  return seg.kind === "literal" ? 0 : seg.kind === "wildcard" ? 1 : 2;
}

/** Orders routes so the most specific template is tried first. */
function compareRoutes(a: Route, b: Route): number {
  const sa = a.template.segments;
  const sb = b.template.segments;
  for (let i = 0; i < Math.max(sa.length, sb.length); i++) {
    const d = segmentRank(sa[i]) - segmentRank(sb[i]);
    if (d !== 0) return d;
  }
  return (a.template.verb === undefined ? 1 : 0) - (b.template.verb === undefined ? 1 : 0);
}

/**
 * Derives the routes of services: one per `google.api.http` binding (with its
 * `additional_bindings`), plus `POST /<package>.<Service>/<Method>` (whole request as the
 * body) for every RPC. Sorted most specific first, the order {@link matchRoute} tries
 * them in. Throws for an annotation that does not fit its request message.
 */
export function buildRoutes(services: readonly DescService[]): Route[] {
  const annotated: Route[] = [];
  const rpc: Route[] = [];
  for (const service of services) {
    for (const method of service.methods) {
      if (hasOption(method, http)) {
        annotated.push(...ruleRoutes(service, method, getOption(method, http), false));
      }
      rpc.push({
        httpMethod: "POST",
        template: {
          source: `/${service.typeName}/${method.name}`,
          segments: [
            { kind: "literal", value: service.typeName },
            { kind: "literal", value: method.name },
          ],
          variables: [],
          verb: undefined,
        },
        body: "*",
        responseBody: "",
        service,
        method,
        annotated: false,
      });
    }
  }
  return [...annotated.sort(compareRoutes), ...rpc];
}

/**
 * Finds the route for a request: the first route (in the given order) whose template
 * matches the path and whose method is `method`; `method_not_allowed` with the methods
 * the path accepts when only others match.
 */
export function matchRoute(
  routes: readonly Route[],
  method: string,
  pathname: string,
): RouteMatch {
  const wanted = method.toUpperCase();
  const path = trimSlash(pathname);
  // The path is split once, and once more per verb it ends with.
  const plain = new SplitPath(path);
  let verbal: SplitPath | undefined;
  let allowed: Set<string> | undefined;
  for (const route of routes) {
    const verb = route.template.verb;
    let split = plain;
    if (verb !== undefined) {
      if (!hasVerb(path, verb)) continue;
      const stripped = path.slice(0, -verb.length - 1);
      if (verbal?.path !== stripped) verbal = new SplitPath(stripped);
      split = verbal;
    }
    const variables = matchParts(route.template, split);
    if (!variables) continue;
    if (route.httpMethod === wanted) return { kind: "found", route, variables };
    (allowed ??= new Set()).add(route.httpMethod);
  }
  return allowed ? { kind: "method_not_allowed", allowed: [...allowed] } : { kind: "not_found" };
}

// ---------------------------------------------------------------------------------------
// Request decoding

/** INVALID_ARGUMENT; with `field`, a BadRequest detail names it (AIP-193). */
function invalid(message: string, field?: string): RpcError {
  if (field === undefined) return new RpcError(Code.INVALID_ARGUMENT, message);
  return badRequest([{ field, description: message }], message);
}

function isObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function parseBool(raw: string, what: string): boolean {
  switch (raw.toLowerCase()) {
    case "":
    case "true":
    case "1":
      return true;
    case "false":
    case "0":
      return false;
    default:
      throw invalid(`${what}: "${raw}" is not a boolean (true or false)`);
  }
}

/** The JSON value for one string from the path or the query, for `fromJson` to check. */
function stringToJson(field: DescField, raw: string, what: string): JsonValue {
  const scalar = field.fieldKind === "scalar" ||
      (field.fieldKind === "list" && field.listKind === "scalar")
    ? field.scalar
    : undefined;
  if (scalar === ScalarType.BOOL) return parseBool(raw, what);
  if (scalar !== undefined) return raw;
  if (field.enum) return /^-?\d+$/.test(raw) ? Number(raw) : fullEnumName(field.enum, raw);
  if (field.message?.typeName === "google.protobuf.BoolValue") return parseBool(raw, what);
  return raw;
}

/** Sets `value` at a field path of a JSON object, replacing the field under either name. */
function setJsonPath(json: JsonObject, fields: readonly DescField[], value: JsonValue): void {
  let obj = json;
  fields.forEach((field, i) => {
    const existing = obj[field.jsonName] ?? obj[field.name];
    delete obj[field.name];
    delete obj[field.jsonName];
    if (i === fields.length - 1) {
      obj[field.jsonName] = value;
    } else {
      const next: JsonObject = isObject(existing) ? existing : {};
      obj[field.jsonName] = next;
      obj = next;
    }
  });
}

function parseBody(text: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch (err) {
    throw invalid(`invalid JSON in request body: ${(err as Error).message}`);
  }
}

function jsonKind(value: JsonValue): string {
  return value === null ? "null" : Array.isArray(value) ? "an array" : `a ${typeof value}`;
}

function applyQuery(
  json: JsonObject,
  input: DescMessage,
  query: URLSearchParams,
  body: string,
): void {
  const seen = new Set<string>();
  for (const key of new Set(query.keys())) {
    if (body === "*") {
      throw invalid(
        `unknown query parameter "${key}": this route takes the whole request from the body`,
        key,
      );
    }
    const fields = resolvePath(input, key.split("."));
    if (typeof fields === "string") {
      throw invalid(`unknown query parameter "${key}": ${fields}`, key);
    }
    const field = fields[fields.length - 1];
    const canonical = fields.map((f) => f.name).join(".");
    if (body !== "" && fields[0].name === findField(input, body)?.name) {
      throw invalid(`query parameter "${key}" is carried by the request body`, key);
    }
    if (seen.has(canonical)) {
      throw invalid(`query parameter "${key}" is given more than once`, key);
    }
    seen.add(canonical);
    const what = `query parameter "${key}"`;
    if (!settableFromString(field, true)) {
      const kind = field.fieldKind === "map" ? "a map" : "a message";
      throw invalid(
        `${what}: ${field.parent.typeName}.${field.name} is ${kind}; set its fields`,
        key,
      );
    }
    const values = query.getAll(key);
    if (field.fieldKind === "list") {
      setJsonPath(json, fields, values.map((v) => stringToJson(field, v, what)));
    } else {
      if (values.length > 1) throw invalid(`${what} is given more than once`, key);
      setJsonPath(json, fields, stringToJson(field, values[0], what));
    }
  }
}

/** What {@link decodeRequest} works out once per route: the fields of its path variables. */
interface RoutePlan {
  /** Each path variable's dotted name and field path (or why it does not resolve). */
  readonly variables: readonly { readonly name: string; readonly fields: DescField[] | string }[];
  /** Every path variable sets a top-level string field (not in a oneof). */
  readonly stringVariables: boolean;
}

const plans = new WeakMap<Route, RoutePlan>();

function planOf(route: Route): RoutePlan {
  let plan = plans.get(route);
  if (!plan) {
    const variables = route.template.variables.map((v) => ({
      name: v.fieldPath.join("."),
      fields: resolvePath(route.method.input, v.fieldPath),
    }));
    const stringVariables = variables.every(({ fields }) =>
      typeof fields !== "string" && fields.length === 1 && fields[0].fieldKind === "scalar" &&
      fields[0].scalar === ScalarType.STRING && fields[0].oneof === undefined
    );
    plan = { variables, stringVariables };
    plans.set(route, plan);
  }
  return plan;
}

/**
 * Decodes an HTTP request into the route's request message: the body (per the rule's
 * `body`), then query parameters (for fields the body does not carry), then path
 * variables, which win over both. Throws RpcError INVALID_ARGUMENT naming the field or
 * parameter for bad JSON, unknown fields or parameters, bad enum values and wrong types.
 */
export function decodeRequest(
  route: Route,
  parts: HttpRequestParts,
  options: DecodeOptions = {},
): Message {
  const input = route.method.input;
  const plan = planOf(route);
  const text = parts.body ?? "";
  if (plan.stringVariables && parts.query.size === 0 && text.trim() === "") {
    // Only string path variables: the message is made directly, as fromJson would.
    const init: Record<string, string> = {};
    for (const { name, fields } of plan.variables) {
      const raw = parts.variables[name];
      if (raw !== undefined) init[(fields as DescField[])[0].localName] = raw;
    }
    return create(input, init as MessageInitShape<DescMessage>);
  }
  let json: JsonObject = {};
  if (route.body === "*") {
    if (text.trim() !== "") {
      const parsed = parseBody(text);
      if (!isObject(parsed)) {
        throw invalid(`request body must be a JSON object, got ${jsonKind(parsed)}`);
      }
      json = parsed;
    }
  } else if (route.body !== "") {
    const field = findField(input, route.body);
    if (field && text.trim() !== "") json[field.jsonName] = parseBody(text);
  }
  applyQuery(json, input, parts.query, route.body);
  for (const { name, fields } of plan.variables) {
    if (typeof fields === "string") throw invalid(fields);
    const raw = parts.variables[name];
    if (raw === undefined) continue;
    setJsonPath(json, fields, stringToJson(fields[fields.length - 1], raw, `path "${name}"`));
  }
  try {
    return fromJson(input, json, { ignoreUnknownFields: false, registry: options.registry });
  } catch (err) {
    const problem = locateProblem(input, json, "");
    if (!problem) throw invalid(`invalid request: ${(err as Error).message}`);
    throw badRequest(
      [{ field: problem.field, description: problem.text }],
      `invalid request: ${problem.text}`,
    );
  }
}

/** A problem found in request JSON: the field's dotted path and what is wrong. */
type Problem = { field: string; text: string };

function enumProblem(field: DescField, value: JsonValue, path: string): Problem | undefined {
  const desc = field.enum;
  if (!desc || typeof value !== "string") return undefined;
  if (desc.values.some((v) => v.name === value || v.jsonName === value)) return undefined;
  const names = desc.values.map((v) => v.name);
  const shown = names.length > 20 ? [...names.slice(0, 20), "..."] : names;
  return {
    field: path,
    text: `invalid value "${value}" for enum field "${path}" (${desc.typeName}); ` +
      `expected one of ${shown.join(", ")}`,
  };
}

/**
 * Finds the first unknown field or bad enum name in request JSON, with its dotted path,
 * for a clearer message than the JSON decoder gives for those two mistakes.
 */
function locateProblem(
  message: DescMessage,
  json: JsonValue,
  prefix: string,
): Problem | undefined {
  if (!isObject(json) || SPECIAL_JSON.has(message.typeName)) return undefined;
  for (const [key, value] of Object.entries(json)) {
    const path = prefix === "" ? key : `${prefix}.${key}`;
    const field = findField(message, key);
    if (!field) {
      return {
        field: path,
        text: `unknown field "${path}" (${message.typeName} has no field "${key}")`,
      };
    }
    if (value === null) continue;
    let problem: Problem | undefined;
    switch (field.fieldKind) {
      case "enum":
        problem = enumProblem(field, value, path);
        break;
      case "message":
        problem = locateProblem(field.message, value, path);
        break;
      case "list":
        if (Array.isArray(value)) {
          for (let i = 0; i < value.length && !problem; i++) {
            problem = field.listKind === "enum"
              ? enumProblem(field, value[i], `${path}[${i}]`)
              : field.listKind === "message"
              ? locateProblem(field.message, value[i], `${path}[${i}]`)
              : undefined;
          }
        }
        break;
      case "map":
        if (isObject(value)) {
          for (const [k, v] of Object.entries(value)) {
            problem = field.mapKind === "enum"
              ? enumProblem(field, v, `${path}.${k}`)
              : field.mapKind === "message"
              ? locateProblem(field.message, v, `${path}.${k}`)
              : undefined;
            if (problem) break;
          }
        }
        break;
    }
    if (problem) return problem;
  }
  return undefined;
}
