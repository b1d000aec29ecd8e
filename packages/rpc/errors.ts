/**
 * gRPC status codes, the error type handlers throw, and the HTTP status each code maps to
 * (the table of grpc-gateway v2 and Connect).
 */

/** gRPC status codes (same numbers as `@grpc/grpc-js`'s `status`). */
export enum Code {
  OK = 0,
  CANCELLED = 1,
  UNKNOWN = 2,
  INVALID_ARGUMENT = 3,
  DEADLINE_EXCEEDED = 4,
  NOT_FOUND = 5,
  ALREADY_EXISTS = 6,
  PERMISSION_DENIED = 7,
  RESOURCE_EXHAUSTED = 8,
  FAILED_PRECONDITION = 9,
  ABORTED = 10,
  OUT_OF_RANGE = 11,
  UNIMPLEMENTED = 12,
  INTERNAL = 13,
  UNAVAILABLE = 14,
  DATA_LOSS = 15,
  UNAUTHENTICATED = 16,
}

/** An error with a gRPC status code; handlers throw it and both transports report it. */
export class RpcError extends Error {
  /** `options.cause` is the error this one stands for (kept for logs and debugging). */
  constructor(
    readonly code: Code,
    message: string,
    readonly details: unknown[] = [],
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "RpcError";
  }
}

/**
 * Wraps anything thrown into an RpcError (the original as its `cause`); unknown errors
 * become INTERNAL.
 */
export function toRpcError(err: unknown): RpcError {
  if (err instanceof RpcError) return err;
  const e = err as { code?: unknown; details?: unknown; message?: unknown };
  // grpc-js client errors carry a numeric code and the server's message in `details`.
  if (typeof e?.code === "number" && e.code >= 0 && e.code <= 16) {
    return new RpcError(e.code, String(e.details ?? e.message ?? ""), [], { cause: err });
  }
  return new RpcError(Code.INTERNAL, err instanceof Error ? err.message : String(err), [], {
    cause: err,
  });
}

const HTTP_STATUS: Partial<Record<Code, number>> = {
  [Code.OK]: 200,
  [Code.CANCELLED]: 499,
  [Code.INVALID_ARGUMENT]: 400,
  [Code.DEADLINE_EXCEEDED]: 504,
  [Code.NOT_FOUND]: 404,
  [Code.ALREADY_EXISTS]: 409,
  [Code.PERMISSION_DENIED]: 403,
  [Code.RESOURCE_EXHAUSTED]: 429,
  [Code.FAILED_PRECONDITION]: 400,
  [Code.ABORTED]: 409,
  [Code.OUT_OF_RANGE]: 400,
  [Code.UNIMPLEMENTED]: 501,
  [Code.UNAVAILABLE]: 503,
  [Code.UNAUTHENTICATED]: 401,
};

/** The HTTP status for a gRPC code (grpc-gateway v2 table; unlisted codes are 500). */
export function httpStatusFor(code: Code): number {
  return HTTP_STATUS[code] ?? 500;
}
