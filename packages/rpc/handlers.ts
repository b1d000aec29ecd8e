/**
 * Transport-agnostic handler types derived from the generated service descriptors: one
 * implementation of a service serves the gRPC server and the HTTP gateway alike.
 */
import type { DescMessage, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import type { TraceContext } from "./trace_context.ts";

/** What a handler knows about the call it serves, whatever the transport. */
export interface CallContext {
  /** Request metadata: gRPC metadata or HTTP headers (keys are case-insensitive). */
  readonly headers: Headers;
  /** Aborted when the caller cancels or disconnects. */
  readonly signal: AbortSignal;
  /** Headers the handler wants sent back (gRPC initial metadata or HTTP headers). */
  readonly responseHeaders: Headers;
  /** The remote peer, e.g. "ipv4:127.0.0.1:51234". */
  readonly peer: string;
  /** The host the caller addressed: gRPC `:authority` or the HTTP Host header; "" unknown. */
  readonly authority?: string;
  /**
   * The span this call is handled in: the caller's `traceparent` continued (or a new
   * trace). Also current for everything the handler does (see `trace_context.ts`).
   */
  readonly trace?: TraceContext;
}

type Init<O extends DescMessage> = MessageInitShape<O>;

/** The handler type of one method, by its kind. */
export type MethodHandler<M> = M extends {
  methodKind: "unary";
  input: infer I extends DescMessage;
  output: infer O extends DescMessage;
} ? (request: MessageShape<I>, ctx: CallContext) => Promise<Init<O>> | Init<O>
  : M extends {
    methodKind: "server_streaming";
    input: infer I extends DescMessage;
    output: infer O extends DescMessage;
  } ? (request: MessageShape<I>, ctx: CallContext) => AsyncIterable<Init<O>>
  : M extends {
    methodKind: "client_streaming";
    input: infer I extends DescMessage;
    output: infer O extends DescMessage;
  } ? (requests: AsyncIterable<MessageShape<I>>, ctx: CallContext) => Promise<Init<O>>
  : M extends {
    methodKind: "bidi_streaming";
    input: infer I extends DescMessage;
    output: infer O extends DescMessage;
  } ? (requests: AsyncIterable<MessageShape<I>>, ctx: CallContext) => AsyncIterable<Init<O>>
  : never;

/** A full implementation of a generated service: one handler per method (by local name). */
export type ServiceImpl<S> = S extends GenService<infer M extends GenServiceMethods>
  ? { [K in keyof M]: MethodHandler<M[K]> }
  : never;

/** An implementation where missing methods answer UNIMPLEMENTED. */
export type PartialServiceImpl<S> = Partial<ServiceImpl<S>>;
