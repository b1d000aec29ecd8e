/**
 * Typed grpc-js clients for generated services. Requests are message init shapes,
 * responses are messages, errors are RpcErrors.
 */
import {
  create,
  type DescMessage,
  type DescService,
  fromBinary,
  type MessageInitShape,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import * as grpc from "@grpc/grpc-js";
import { Buffer } from "node:buffer";
import { Code, RpcError, toRpcError } from "./errors.ts";
import { currentTrace, formatTraceparent } from "./trace_context.ts";
import { type ActiveSpan, startSpan } from "./otel_spans.ts";

/** Per-call options. */
export interface CallOptions {
  /** Deadline in milliseconds from now. */
  timeoutMs?: number;
  /** Metadata to send, e.g. `{ authorization: "Bearer ..." }`. */
  headers?: Record<string, string>;
  /** Cancels the call. */
  signal?: AbortSignal;
}

/** Per-client behaviour added to every call. */
export interface ClientHooks {
  /** Deadline of calls that set no `timeoutMs`, in milliseconds; none by default. */
  defaultTimeoutMs?: number;
  /**
   * Start a new trace for calls made outside any trace (default false: such calls carry
   * no `traceparent`). Calls made inside a trace always carry it, as a child span.
   */
  startTraces?: boolean;
  /**
   * Told when a call ends: the method name (e.g. "RegisterModule"), its status code and
   * its duration in seconds. Streaming calls end with their stream.
   */
  onCallEnd?: (method: string, code: Code, seconds: number) => void;
}

type Init<D extends DescMessage> = MessageInitShape<D>;
type Shape<D extends DescMessage> = MessageShape<D>;

/** The client function of one method, by its kind. */
export type ClientMethod<M> = M extends {
  methodKind: "unary";
  input: infer I extends DescMessage;
  output: infer O extends DescMessage;
} ? (request: Init<I>, options?: CallOptions) => Promise<Shape<O>>
  : M extends {
    methodKind: "server_streaming";
    input: infer I extends DescMessage;
    output: infer O extends DescMessage;
  } ? (request: Init<I>, options?: CallOptions) => AsyncIterable<Shape<O>>
  : M extends {
    methodKind: "bidi_streaming";
    input: infer I extends DescMessage;
    output: infer O extends DescMessage;
  } ? (requests: AsyncIterable<Init<I>>, options?: CallOptions) => AsyncIterable<Shape<O>>
  : never;

/** A typed client: one function per method, plus `close()`. */
export type Client<S> = S extends GenService<infer M extends GenServiceMethods>
  ? { [K in keyof M]: ClientMethod<M[K]> } & {
    /** Closes the channel. */
    close(): void;
    /** Resolves when the channel is connected, rejects after the deadline. */
    waitForReady(timeoutMs: number): Promise<void>;
  }
  : never;

/**
 * Channel options for every client. `grpc.per_rpc_retry_buffer_size: 0` turns off the
 * retry buffer, which otherwise grows quadratically on streams of many small messages
 * and stalls them for seconds per MiB. Channelz (call statistics for a channelz service,
 * which nothing here serves) is off: it costs timestamps and closures on every call.
 */
export const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  "grpc.per_rpc_retry_buffer_size": 0,
  "grpc.enable_retries": 0,
  "grpc.enable_channelz": 0,
  "grpc.max_receive_message_length": 16 * 1024 * 1024,
};

function serializer(schema: DescMessage) {
  // deno-lint-ignore no-explicit-any
  return (value: any) => {
    const bytes = toBinary(schema, create(schema, value));
    // A Buffer over the encoded bytes, not a copy of them.
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}

function deserializer(schema: DescMessage) {
  return (bytes: Uint8Array) => fromBinary(schema, bytes);
}

/** One call in progress: its metadata and deadline, and how it is reported when it ends. */
class CallTracker {
  readonly metadata = new grpc.Metadata();
  readonly callOptions: grpc.CallOptions;
  readonly #span: ActiveSpan | undefined;
  readonly #started: number;
  #ended = false;

  readonly #method: string;
  readonly #hooks: ClientHooks;

  /** `name` is the method's full name, `service/Method` without the leading slash. */
  constructor(
    name: string,
    method: string,
    options: CallOptions | undefined,
    hooks: ClientHooks,
  ) {
    this.#method = method;
    this.#hooks = hooks;
    let hasTraceparent = false;
    if (options?.headers) {
      for (const [k, v] of Object.entries(options.headers)) {
        this.metadata.set(k, v);
        if (k.toLowerCase() === "traceparent") hasTraceparent = true;
      }
    }
    if (!hasTraceparent) {
      const parent = currentTrace();
      if (parent || hooks.startTraces) {
        this.#span = startSpan(name, "client", parent, { "rpc.system": "grpc" });
        this.metadata.set("traceparent", formatTraceparent(this.#span.trace));
      }
    }
    const timeoutMs = options?.timeoutMs ?? hooks.defaultTimeoutMs;
    this.callOptions = timeoutMs ? { deadline: Date.now() + timeoutMs } : {};
    this.#started = performance.now();
  }

  /** Ends the span and reports the call, once; `err` is its failure. */
  end(err?: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    const rpc = err === undefined ? undefined : toRpcError(err);
    this.#span?.end(rpc && { code: rpc.code, message: rpc.message });
    this.#hooks.onCallEnd?.(
      this.#method,
      rpc?.code ?? Code.OK,
      (performance.now() - this.#started) / 1000,
    );
  }
}

/** Turns a readable grpc-js stream into an async iterable that throws RpcErrors. */
async function* readStream<T>(
  stream: grpc.ClientReadableStream<T>,
  tracker: CallTracker,
): AsyncIterable<T> {
  try {
    for await (const item of stream) yield item as T;
    tracker.end();
  } catch (err) {
    tracker.end(err);
    throw toRpcError(err);
  } finally {
    tracker.end(new RpcError(Code.CANCELLED, "cancelled by the client"));
    stream.cancel();
  }
}

/** How `createClient` connects, and what it adds to every call. */
export interface ClientOptions extends ClientHooks {
  /** The channel's credentials (default: plaintext). */
  credentials?: grpc.ChannelCredentials;
  /** grpc-js channel options, over `CHANNEL_OPTIONS`. */
  channel?: grpc.ChannelOptions;
}

/** Creates a typed client of `service` for `address` (host:port). */
export function createClient<S extends DescService>(
  service: S,
  address: string,
  options: ClientOptions = {},
): Client<S> {
  const { credentials = grpc.credentials.createInsecure(), channel = {}, ...hooks } = options;
  const raw = new grpc.Client(address, credentials, { ...CHANNEL_OPTIONS, ...channel });
  const client: Record<string, unknown> = {
    close: () => raw.close(),
    waitForReady: (timeoutMs: number) =>
      new Promise<void>((resolve, reject) =>
        raw.waitForReady(Date.now() + timeoutMs, (err) => err ? reject(err) : resolve())
      ),
  };
  for (const method of service.methods) {
    const name = `${service.typeName}/${method.name}`;
    const path = `/${name}`;
    const ser = serializer(method.input);
    const de = deserializer(method.output);
    switch (method.methodKind) {
      case "unary":
        client[method.localName] = (request: unknown, options?: CallOptions) =>
          new Promise((resolve, reject) => {
            const t = new CallTracker(name, method.name, options, hooks);
            const call = raw.makeUnaryRequest(
              path,
              ser,
              de,
              request,
              t.metadata,
              t.callOptions,
              (err, value) => {
                t.end(err ?? undefined);
                err ? reject(toRpcError(err)) : resolve(value);
              },
            );
            options?.signal?.addEventListener("abort", () => call.cancel(), { once: true });
          });
        break;
      case "server_streaming":
        client[method.localName] = (request: unknown, options?: CallOptions) => {
          const t = new CallTracker(name, method.name, options, hooks);
          const stream = raw.makeServerStreamRequest(
            path,
            ser,
            de,
            request,
            t.metadata,
            t.callOptions,
          );
          options?.signal?.addEventListener("abort", () => stream.cancel(), { once: true });
          return readStream(stream, t);
        };
        break;
      case "bidi_streaming":
        client[method.localName] = (requests: AsyncIterable<unknown>, options?: CallOptions) => {
          const t = new CallTracker(name, method.name, options, hooks);
          const stream = raw.makeBidiStreamRequest(
            path,
            ser,
            de,
            t.metadata,
            t.callOptions,
          );
          options?.signal?.addEventListener("abort", () => stream.cancel(), { once: true });
          (async () => {
            try {
              for await (const r of requests) {
                if (!stream.write(r)) await new Promise((ok) => stream.once("drain", ok));
              }
              stream.end();
            } catch {
              stream.cancel();
            }
          })();
          return readStream(stream as unknown as grpc.ClientReadableStream<unknown>, t);
        };
        break;
      default:
        client[method.localName] = () => {
          throw new Error(`${path}: client streaming is not supported by this client`);
        };
    }
  }
  return client as Client<S>;
}
