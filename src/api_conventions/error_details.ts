/**
 * Typed error details as AIP-193 describes them: an INVALID_ARGUMENT error carries a
 * `google.rpc.BadRequest` with one field violation per bad field (its path in the JSON
 * names, and why), so clients need not parse the message. On the HTTP gateway the details
 * are the `details` of the JSON error body, packed as `google.protobuf.Any`
 * (`{"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [...]}`); on
 * gRPC they travel as a serialized `google.rpc.Status` in the `grpc-status-details-bin`
 * trailer, as Google's APIs and grpc-status libraries expect.
 */
import { create, createRegistry, isMessage, type Registry, toBinary } from "@bufbuild/protobuf";
import { anyPack, file_google_protobuf_any } from "@bufbuild/protobuf/wkt";
import {
  type BadRequest,
  BadRequestSchema,
  file_google_rpc_error_details,
} from "@callassistant/protocol/google/rpc/error_details";
import { file_google_rpc_status, StatusSchema } from "@callassistant/protocol/google/rpc/status";
import { Code, RpcError } from "@callassistant/rpc";

/** One bad field: its path (JSON names, e.g. `configuration.url`) and what is wrong. */
export interface FieldViolation {
  readonly field: string;
  readonly description: string;
}

/** The detail types the orchestrator sends, for packing them as Any. */
export const ERROR_DETAIL_FILES = [file_google_rpc_error_details, file_google_rpc_status];

const detailRegistry: Registry = createRegistry(
  file_google_protobuf_any,
  ...ERROR_DETAIL_FILES,
);

/** Violations as one line: `field: description` (or the description alone), joined by "; ". */
export function describeViolations(violations: readonly FieldViolation[]): string {
  return violations.map((v) => v.field ? `${v.field}: ${v.description}` : v.description)
    .join("; ");
}

/**
 * An INVALID_ARGUMENT error for these field violations: the message is `message`, else
 * the violations described, and the details hold the BadRequest.
 */
export function badRequest(violations: readonly FieldViolation[], message?: string): RpcError {
  const text = message ?? describeViolations(violations);
  const detail = create(BadRequestSchema, {
    fieldViolations: violations.map((v) => ({ field: v.field, description: v.description })),
  });
  return new RpcError(Code.INVALID_ARGUMENT, text, [detail]);
}

/** The field violations an error carries (empty when none). */
export function fieldViolations(err: RpcError): FieldViolation[] {
  return err.details
    .filter((d): d is BadRequest => isMessage(d, BadRequestSchema))
    .flatMap((d) => d.fieldViolations.map((v) => ({ field: v.field, description: v.description })));
}

/**
 * The `grpc-status-details-bin` value of an error: its status with its details packed as
 * Any, serialized; undefined when it carries no message details.
 */
export function statusDetailsBin(err: RpcError): Uint8Array | undefined {
  const details = err.details.flatMap((d) => {
    if (!isMessage(d)) return [];
    const schema = detailRegistry.getMessage(d.$typeName);
    return schema ? [anyPack(schema, d)] : [];
  });
  if (details.length === 0) return undefined;
  return toBinary(
    StatusSchema,
    create(StatusSchema, { code: err.code, message: err.message, details }),
  );
}
