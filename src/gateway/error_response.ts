/**
 * The gateway's JSON answers: the error body `{code, message, details}` (the JSON form of
 * `google.rpc.Status`, message details packed as `google.protobuf.Any`) with the HTTP
 * status of the gRPC code, and plain JSON responses.
 */
import {
  isMessage,
  type JsonObject,
  type JsonValue,
  type Registry,
  toJson,
} from "@bufbuild/protobuf";
import { anyPack, AnySchema } from "@bufbuild/protobuf/wkt";
import { httpStatusFor, type RpcError } from "@callassistant/rpc";

/** The content type of JSON answers. */
export const JSON_TYPE = "application/json";

function toJsonValue(value: unknown): JsonValue {
  try {
    return JSON.parse(JSON.stringify(value) ?? "null") as JsonValue;
  } catch {
    return String(value);
  }
}

/** The JSON error body: `{code, message, details}`, message details packed as Any. */
export function errorBody(err: RpcError, registry?: Registry): JsonObject {
  const details = err.details.map((detail): JsonValue => {
    if (isMessage(detail)) {
      const schema = registry?.getMessage(detail.$typeName);
      if (schema) {
        try {
          return toJson(AnySchema, anyPack(schema, detail), { registry });
        } catch {
          // Fall through to the plain rendering.
        }
      }
    }
    return toJsonValue(detail);
  });
  return { code: err.code, message: err.message, details };
}

/** A JSON response; `headers` (which it sets the content type in) are sent as well. */
export function jsonResponse(body: JsonValue, status: number, headers?: Headers): Response {
  if (!headers) {
    return new Response(JSON.stringify(body), { status, headers: { "content-type": JSON_TYPE } });
  }
  headers.set("content-type", JSON_TYPE);
  return new Response(JSON.stringify(body), { status, headers });
}

/** The error body of `err` with the HTTP status of its code. */
export function errorResponse(err: RpcError, registry?: Registry, headers?: Headers): Response {
  return jsonResponse(errorBody(err, registry), httpStatusFor(err.code), headers);
}
