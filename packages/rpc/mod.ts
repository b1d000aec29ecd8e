/**
 * `@callassistant/rpc`: the gRPC transport shared by the orchestrator and the module SDK.
 * An adapter from `@grpc/grpc-js` to typed handlers and clients of `@bufbuild/protobuf`
 * services, the error model (`RpcError`, `Code`), W3C trace context carried through calls,
 * optional OpenTelemetry spans, and a TLS terminator for serving gRPC over TLS on Deno.
 *
 * @module
 */
export {
  type CallOptions,
  CHANNEL_OPTIONS,
  type Client,
  type ClientHooks,
  type ClientMethod,
  type ClientOptions,
  createClient,
} from "./client_adapter.ts";
export { Code, httpStatusFor, RpcError, toRpcError } from "./errors.ts";
export { Fifo } from "./fifo_buffer.ts";
export type { CallContext, MethodHandler, PartialServiceImpl, ServiceImpl } from "./handlers.ts";
export { hostPort } from "./host_port.ts";
export { activeOtelTrace, type ActiveSpan, startSpan } from "./otel_spans.ts";
export { type PemKind, readPem, type TlsFiles } from "./pem.ts";
export {
  addService,
  grpcDefinition,
  grpcImplementation,
  type InternalErrorHook,
  metadataToHeaders,
  type ServerHooks,
  stopServer,
} from "./server_adapter.ts";
export {
  startTlsTerminator,
  type TlsTerminator,
  type TlsTerminatorOptions,
} from "./tls_terminator.ts";
export {
  type ConnectionLimits,
  type Forwarder,
  type ForwarderOptions,
  startForwarder,
} from "./tcp_forwarder.ts";
export {
  childOf,
  currentTrace,
  currentTraceId,
  currentTraceparent,
  formatTraceparent,
  newSpanId,
  newTraceId,
  parseTraceparent,
  runWithoutTrace,
  runWithTrace,
  type TraceContext,
  traceIterable,
} from "./trace_context.ts";
