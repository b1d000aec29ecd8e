/** toRpcError: codes are kept, anything else is INTERNAL, and the original is the cause. */
import assert from "node:assert/strict";
import { Code, RpcError, toRpcError } from "@callassistant/rpc";

Deno.test("toRpcError keeps the original error as its cause", () => {
  const plain = new TypeError("x is not a function");
  const internal = toRpcError(plain);
  assert.equal(internal.code, Code.INTERNAL);
  assert.equal(internal.message, "x is not a function");
  assert.equal(internal.cause, plain);

  // A grpc-js client error: its code, the server's message from `details`.
  const grpcError = Object.assign(new Error("14 UNAVAILABLE: no connection"), {
    code: Code.UNAVAILABLE,
    details: "no connection",
  });
  const wrapped = toRpcError(grpcError);
  assert.equal(wrapped.code, Code.UNAVAILABLE);
  assert.equal(wrapped.message, "no connection");
  assert.equal(wrapped.cause, grpcError);

  const thrownString = toRpcError("boom");
  assert.equal(thrownString.message, "boom");
  assert.equal(thrownString.cause, "boom");

  const already = new RpcError(Code.NOT_FOUND, "no such thing");
  assert.equal(toRpcError(already), already);
});
