/**
 * Request decoding for the gateway (gRPC transcoding): path variables, query parameters
 * and the JSON body of an HTTP request into the route's request message (proto3 canonical
 * JSON mapping), with INVALID_ARGUMENT errors that name the bad field (AIP-193).
 */
import {
  create,
  type DescField,
  type DescMessage,
  fromJson,
  type JsonObject,
  type JsonValue,
  type Message,
  type MessageInitShape,
  type Registry,
  ScalarType,
} from "@bufbuild/protobuf";
import { Code, RpcError } from "@callassistant/rpc";
import { badRequest } from "../api_conventions/error_details.ts";
import { fullEnumName } from "./enum_names.ts";
import type { PathVariables } from "./path_template.ts";
import { findField, resolvePath, settableFromString, SPECIAL_JSON } from "./request_fields.ts";
import type { Route } from "./route_table.ts";

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
