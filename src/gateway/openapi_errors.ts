/**
 * The documented 4xx answers of the OpenAPI document, derived from the gateway's error
 * table (`httpStatusFor`: the gRPC code of each error decides its HTTP status), as shared
 * `components.responses`, and which of them an operation can give.
 */
import type { JsonObject } from "@bufbuild/protobuf";
import { Code, httpStatusFor } from "@callassistant/rpc";

/** The component schema of the error body. */
export const ERROR_SCHEMA = "google.rpc.Status";

/** What each documented 4xx status means here, beyond the codes mapped to it. */
const MEANING: Record<string, { name: string; text: string }> = {
  "400": {
    name: "BadRequest",
    text: "The request is invalid: bad JSON, an unknown field or query parameter, a bad " +
      "value, or a state that does not allow the call (FAILED_PRECONDITION). `details` " +
      "holds a `google.rpc.BadRequest` whose `fieldViolations` name each bad field.",
  },
  "401": {
    name: "Unauthenticated",
    text: "Authentication is on (a listener beyond loopback) and the request has no valid " +
      "bearer token or session cookie. Sent with `WWW-Authenticate: Bearer`.",
  },
  "403": {
    name: "Forbidden",
    text: "The Host header or the Origin is not one the orchestrator accepts (protection " +
      "against DNS rebinding and cross-site requests; see `--allowed-host`).",
  },
  "404": { name: "NotFound", text: "The resource named in the path does not exist." },
  "409": {
    name: "Conflict",
    text: "The resource already exists, or an `expectedRevision` is not the current one.",
  },
  "413": {
    name: "PayloadTooLarge",
    text: "The request body is larger than the limit (1 MiB by default); code " +
      "RESOURCE_EXHAUSTED.",
  },
  "415": {
    name: "UnsupportedMediaType",
    text: "A request with a body must send it as JSON (`Content-Type: application/json`).",
  },
};

/** The gRPC code names the error table maps to `status`. */
function codesFor(status: number): string[] {
  return Object.entries(Code)
    .filter(([name, value]) => typeof value === "number" && /^[A-Z_]+$/.test(name))
    .filter(([, value]) => httpStatusFor(value as Code) === status)
    .map(([name]) => name);
}

/** The shared `components.responses` of the 4xx statuses. */
export function errorResponses(): JsonObject {
  const out: JsonObject = {};
  for (const [status, { name, text }] of Object.entries(MEANING)) {
    const codes = codesFor(Number(status));
    out[name] = {
      description: codes.length ? `${text} gRPC codes: ${codes.join(", ")}.` : text,
      content: { "application/json": { schema: { $ref: `#/components/schemas/${ERROR_SCHEMA}` } } },
    };
  }
  return out;
}

/** What decides which errors an operation documents. */
export interface OperationShape {
  /** The HTTP method, upper case. */
  readonly httpMethod: string;
  /** Whether the path names a resource (has variables). */
  readonly hasPathVariables: boolean;
  /** Whether the operation takes a request body. */
  readonly hasBody: boolean;
  /** Whether it needs credentials when authentication is on. */
  readonly secured: boolean;
}

/** The reference to the shared response of a 4xx `status`. */
export function errorRef(status: "400" | "401" | "403"): JsonObject {
  return { $ref: `#/components/responses/${MEANING[status].name}` };
}

/** The 4xx responses of one operation, as references to {@link errorResponses}. */
export function operationErrors(op: OperationShape): JsonObject {
  const statuses = ["400"];
  if (op.secured) statuses.push("401");
  statuses.push("403");
  if (op.hasPathVariables) statuses.push("404");
  if (["POST", "PUT", "PATCH"].includes(op.httpMethod)) statuses.push("409");
  if (op.hasBody) statuses.push("413", "415");
  const out: JsonObject = {};
  for (const status of statuses) {
    out[status] = { $ref: `#/components/responses/${MEANING[status].name}` };
  }
  return out;
}
