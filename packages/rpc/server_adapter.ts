/**
 * Adapts a transport-agnostic service implementation to a grpc-js service, serializing
 * with the generated protobuf-es descriptors. Methods without a handler answer
 * UNIMPLEMENTED.
 */
import {
  create,
  type DescMessage,
  type DescService,
  fromBinary,
  toBinary,
} from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { Buffer } from "node:buffer";
import type { CallContext } from "./handlers.ts";
import { Code, RpcError, toRpcError } from "./errors.ts";
import {
  formatTraceparent,
  parseTraceparent,
  runWithTrace,
  traceIterable,
} from "./trace_context.ts";
import { activeOtelTrace, startSpan } from "./otel_spans.ts";

// deno-lint-ignore no-explicit-any
type AnyHandler = (input: any, ctx: CallContext) => any;

/** Called with every error a handler throws that is not an RpcError (a bug or a crash). */
export type InternalErrorHook = (method: string, err: unknown) => void;

/** Per-server behaviour added to every call. */
export interface ServerHooks {
  /** Told about handler errors that are not RpcErrors (answered as INTERNAL). */
  onInternalError?: InternalErrorHook;
  /**
   * Told when a call ends: "package.Service/Method", its status code and its duration in
   * seconds (a stream's whole life).
   */
  onCallEnd?: (method: string, code: Code, seconds: number) => void;
  /**
   * Checks every call (its metadata, `:authority`, peer) before its handler runs; throws
   * an RpcError (e.g. UNAUTHENTICATED) to refuse the call.
   */
  authorize?: (ctx: CallContext) => void;
  /**
   * The `grpc-status-details-bin` trailer of a failed call (a serialized
   * `google.rpc.Status` with the error's details), or undefined for none.
   */
  statusDetails?: (err: RpcError) => Uint8Array | undefined;
}

function serializer(schema: DescMessage) {
  // deno-lint-ignore no-explicit-any
  return (value: any) => Buffer.from(toBinary(schema, create(schema, value)));
}

/**
 * A request that did not decode. grpc-js answers INTERNAL when a request deserializer
 * throws, so the deserializer returns this instead and the call answers INVALID_ARGUMENT.
 */
class UndecodableRequest {
  constructor(readonly error: RpcError) {}
}

function requestDeserializer(schema: DescMessage) {
  return (bytes: Uint8Array) => {
    try {
      return fromBinary(schema, bytes);
    } catch (err) {
      return new UndecodableRequest(
        new RpcError(Code.INVALID_ARGUMENT, `cannot decode ${schema.typeName}: ${err}`),
      );
    }
  };
}

function responseDeserializer(schema: DescMessage) {
  return (bytes: Uint8Array) => {
    try {
      return fromBinary(schema, bytes);
    } catch (err) {
      throw new RpcError(Code.INTERNAL, `cannot decode the response ${schema.typeName}: ${err}`);
    }
  };
}

/** The decoded request, or the INVALID_ARGUMENT error of one that did not decode. */
function decoded<T>(request: T): T {
  if (request instanceof UndecodableRequest) throw request.error;
  return request;
}

/** The grpc-js definition of a generated service. */
export function grpcDefinition(service: DescService): grpc.ServiceDefinition {
  const def: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const method of service.methods) {
    def[method.localName] = {
      path: `/${service.typeName}/${method.name}`,
      requestStream: method.methodKind === "client_streaming" ||
        method.methodKind === "bidi_streaming",
      responseStream: method.methodKind === "server_streaming" ||
        method.methodKind === "bidi_streaming",
      requestSerialize: serializer(method.input),
      requestDeserialize: requestDeserializer(method.input),
      responseSerialize: serializer(method.output),
      responseDeserialize: responseDeserializer(method.output),
      originalName: method.name,
    };
  }
  return def;
}

/** Turns gRPC metadata into Headers (binary values are skipped). */
export function metadataToHeaders(metadata: grpc.Metadata): Headers {
  const headers = new Headers();
  for (const [key, value] of Object.entries(metadata.getMap())) {
    if (typeof value === "string" && !key.endsWith("-bin")) {
      try {
        headers.set(key, value);
      } catch {
        // A value Headers cannot hold is ignored.
      }
    }
  }
  return headers;
}

function headersToMetadata(headers: Headers): grpc.Metadata {
  const md = new grpc.Metadata();
  headers.forEach((value, key) => md.set(key, value));
  return md;
}

function statusOf(err: unknown, method: string, hooks: ServerHooks): grpc.StatusObject {
  const rpc = toRpcError(err);
  if (!(err instanceof RpcError) && rpc.code === Code.INTERNAL) {
    hooks.onInternalError?.(method, err);
  }
  const metadata = new grpc.Metadata();
  const details = hooks.statusDetails?.(rpc);
  if (details) metadata.set("grpc-status-details-bin", Buffer.from(details));
  return { code: rpc.code as number, details: rpc.message, metadata };
}

// The adapter handles all four call kinds; grpc-js's per-kind types add nothing here.
// deno-lint-ignore no-explicit-any
type AnyCall = any;

interface CallState {
  ctx: CallContext;
  sendHeaders: () => void;
  /** Ends the call's span and reports it; `err` when it failed. */
  finish: (err?: unknown) => void;
}

/**
 * The handler's context: the caller's `traceparent` is continued in a new server span
 * (or a new trace is started), returned as `traceparent` response metadata.
 */
function contextOf(call: AnyCall, name: string, hooks: ServerHooks): CallState {
  const started = performance.now();
  const abort = new AbortController();
  call.on("cancelled", () => abort.abort(new RpcError(Code.CANCELLED, "call cancelled")));
  const headers = metadataToHeaders(call.metadata);
  const parent = activeOtelTrace() ?? parseTraceparent(headers.get("traceparent"));
  const span = startSpan(name, "server", parent, { "rpc.system": "grpc" });
  const responseHeaders = new Headers({ traceparent: formatTraceparent(span.trace) });
  let sent = false;
  let finished = false;
  const ctx: CallContext = {
    headers,
    signal: abort.signal,
    responseHeaders,
    peer: call.getPeer(),
    authority: call.getHost?.() ?? "",
    trace: span.trace,
  };
  const finish = (err?: unknown) => {
    if (finished) return;
    finished = true;
    const rpc = err === undefined
      ? (abort.signal.aborted ? new RpcError(Code.CANCELLED, "call cancelled") : undefined)
      : toRpcError(err);
    span.end(rpc && { code: rpc.code, message: rpc.message });
    hooks.onCallEnd?.(name, rpc?.code ?? Code.OK, (performance.now() - started) / 1000);
  };
  const sendHeaders = () => {
    if (sent) return;
    sent = true;
    if ([...responseHeaders.keys()].length > 0) {
      call.sendMetadata(headersToMetadata(responseHeaders));
    }
  };
  return { ctx, sendHeaders, finish };
}

/**
 * The requests of a client- or bidi-streaming call. Node's stream iterator destroys the
 * whole duplex when the consumer stops early (Deno's ignores `destroyOnReturn: false`),
 * which loses the status and the responses still to come: this one only reads, pausing
 * the call while too many requests wait.
 */
function requestsOf(call: grpc.ServerReadableStream<unknown, unknown>): AsyncIterable<unknown> {
  return {
    async *[Symbol.asyncIterator]() {
      const queue: unknown[] = [];
      let done = false;
      let error: unknown;
      let wake: (() => void) | undefined;
      const onData = (data: unknown) => {
        queue.push(data);
        if (queue.length >= 16) call.pause();
        wake?.();
      };
      const onEnd = () => {
        done = true;
        wake?.();
      };
      const onError = (err: unknown) => {
        error ??= err;
        done = true;
        wake?.();
      };
      call.on("data", onData);
      call.on("end", onEnd);
      call.on("error", onError);
      try {
        while (true) {
          if (queue.length > 0) {
            const item = queue.shift();
            if (queue.length < 8 && call.isPaused()) call.resume();
            yield decoded(item);
            continue;
          }
          if (error !== undefined) throw error;
          if (done) return;
          await new Promise<void>((resolve) => wake = resolve);
          wake = undefined;
        }
      } finally {
        call.off("data", onData);
        call.off("end", onEnd);
        call.off("error", onError);
      }
    },
  };
}

/** Writes every item of an iterable to a server stream, honouring backpressure. */
async function pump(
  items: AsyncIterable<unknown>,
  call: grpc.ServerWritableStream<unknown, unknown>,
  signal: AbortSignal,
): Promise<void> {
  for await (const item of items) {
    if (signal.aborted) return;
    if (!call.write(item)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          call.off("drain", done);
          signal.removeEventListener("abort", done);
          resolve();
        };
        call.once("drain", done);
        signal.addEventListener("abort", done, { once: true });
      });
    }
  }
}

/**
 * Builds the grpc-js implementation object for `server.addService(grpcDefinition(s), ...)`
 * from a transport-agnostic implementation.
 */
export function grpcImplementation(
  service: DescService,
  impl: Record<string, AnyHandler | undefined>,
  hooksOrOnInternalError?: ServerHooks | InternalErrorHook,
): grpc.UntypedServiceImplementation {
  const hooks: ServerHooks = typeof hooksOrOnInternalError === "function"
    ? { onInternalError: hooksOrOnInternalError }
    : hooksOrOnInternalError ?? {};
  const out: Record<string, grpc.UntypedHandleCall> = {};
  for (const method of service.methods) {
    const handler = impl[method.localName];
    const name = `${service.typeName}/${method.name}`;
    if (!handler) {
      out[method.localName] = (call: AnyCall, callback?: grpc.sendUnaryData<unknown>) => {
        const status = {
          code: Code.UNIMPLEMENTED as number,
          details: `${name} is not implemented yet`,
        };
        if (callback) callback(status);
        else call.emit("error", status);
      };
      continue;
    }
    switch (method.methodKind) {
      case "unary":
        out[method.localName] = async (call: AnyCall, callback: grpc.sendUnaryData<unknown>) => {
          const { ctx, sendHeaders, finish } = contextOf(call, name, hooks);
          try {
            hooks.authorize?.(ctx);
            const result = await runWithTrace(ctx.trace, () => handler(decoded(call.request), ctx));
            sendHeaders();
            callback(null, result);
            finish();
          } catch (err) {
            sendHeaders();
            callback(statusOf(err, name, hooks));
            finish(err);
          }
        };
        break;
      case "server_streaming":
        out[method.localName] = async (call: grpc.ServerWritableStream<unknown, unknown>) => {
          const { ctx, sendHeaders, finish } = contextOf(call as AnyCall, name, hooks);
          try {
            hooks.authorize?.(ctx);
            const items = traceIterable(
              ctx.trace,
              () => handler(decoded(call.request), ctx) as AsyncIterable<unknown>,
            );
            sendHeaders();
            await pump(items, call, ctx.signal);
            if (!ctx.signal.aborted) call.end();
            finish();
          } catch (err) {
            if (!ctx.signal.aborted) call.emit("error", statusOf(err, name, hooks));
            finish(err);
          }
        };
        break;
      case "client_streaming":
        out[method.localName] = async (
          call: grpc.ServerReadableStream<unknown, unknown>,
          callback: grpc.sendUnaryData<unknown>,
        ) => {
          const { ctx, sendHeaders, finish } = contextOf(call as unknown as AnyCall, name, hooks);
          try {
            hooks.authorize?.(ctx);
            const result = await runWithTrace(
              ctx.trace,
              () => handler(requestsOf(call), ctx),
            );
            sendHeaders();
            callback(null, result);
            finish();
          } catch (err) {
            sendHeaders();
            callback(statusOf(err, name, hooks));
            finish(err);
          }
        };
        break;
      case "bidi_streaming":
        out[method.localName] = async (call: grpc.ServerDuplexStream<unknown, unknown>) => {
          const { ctx, sendHeaders, finish } = contextOf(call as unknown as AnyCall, name, hooks);
          try {
            hooks.authorize?.(ctx);
            const items = traceIterable(
              ctx.trace,
              () => handler(requestsOf(call), ctx) as AsyncIterable<unknown>,
            );
            sendHeaders();
            await pump(
              items,
              call as unknown as grpc.ServerWritableStream<unknown, unknown>,
              ctx.signal,
            );
            if (!ctx.signal.aborted) call.end();
            finish();
          } catch (err) {
            if (!ctx.signal.aborted) call.emit("error", statusOf(err, name, hooks));
            finish(err);
          }
        };
        break;
    }
  }
  return out;
}

/** Adds a generated service with its implementation to a grpc-js server. */
export function addService(
  server: grpc.Server,
  service: DescService,
  impl: object,
  hooksOrOnInternalError?: ServerHooks | InternalErrorHook,
): void {
  server.addService(
    grpcDefinition(service),
    grpcImplementation(service, impl as Record<string, AnyHandler>, hooksOrOnInternalError),
  );
}

/** Stops accepting calls, waits up to `timeoutMs` for running ones, then forces. */
export function stopServer(server: grpc.Server, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, timeoutMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
