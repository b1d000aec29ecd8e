/**
 * The gateway's RPC dispatch: finds the route of a request, decodes the request message,
 * calls the handler in-process and answers its result as JSON (unary) or as a stream
 * (NDJSON or Server-Sent Events, see `stream_response.ts`).
 */
import {
  create,
  type DescMessage,
  type DescService,
  type JsonObject,
  type JsonValue,
  type MessageInitShape,
  type Registry,
  toJson,
} from "@bufbuild/protobuf";
import type { Context } from "hono";
import { Code, currentTrace, RpcError, toRpcError, traceIterable } from "@callassistant/rpc";
import type { CallContext } from "@callassistant/rpc";
import { GatewayCallContext } from "./call_context.ts";
import { errorBody, errorResponse, jsonResponse } from "./error_response.ts";
import { decodeRequest } from "./request_decoding.ts";
import { matchRoute, type Route } from "./route_table.ts";
import { NDJSON_TYPE, SSE_TYPE, streamResponse } from "./stream_response.ts";

/** What the dispatcher serves. */
export interface DispatchOptions {
  /** The routes, as `buildRoutes` gives them. */
  readonly routes: readonly Route[];
  /** Each service's implementation, methods by local name. */
  readonly impls: ReadonlyMap<DescService, Record<string, unknown>>;
  /** The type registry of the JSON mapping (for `google.protobuf.Any`). */
  readonly registry: Registry;
  /** Interval of SSE keep-alive comments in ms; 0 for none. */
  readonly keepAliveMs: number;
  /** How long a stream may take to produce its first item before headers are sent, ms. */
  readonly streamStartMs: number;
  /** Told about unexpected handler errors (answered as INTERNAL). */
  readonly onInternalError: (method: string, err: unknown) => void;
}

type Handler = (request: unknown, ctx: CallContext) => unknown;

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown } | undefined;

/** Waits for a promise up to `ms`; undefined when it has not settled by then. */
async function within<T>(promise: Promise<T>, ms: number): Promise<Settled<T>> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([
      promise.then(
        (value): Settled<T> => ({ ok: true, value }),
        (error): Settled<T> => ({ ok: false, error }),
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function isJsonObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The Hono handler that serves every RPC route. It sets the route label
 * (`c.set("route", template)`) for the request metrics once a route matched.
 */
export function rpcDispatcher(options: DispatchOptions): (c: Context) => Promise<Response> {
  const { routes, impls, registry } = options;
  const jsonOptions = { alwaysEmitImplicit: true, registry };
  const encode = (schema: DescMessage, value: unknown, responseBody: string): JsonValue => {
    const message = create(schema, value as MessageInitShape<DescMessage>);
    const json = toJson(schema, message, jsonOptions);
    if (responseBody === "" || !isJsonObject(json)) return json;
    const field = schema.fields.find((f) => f.name === responseBody || f.jsonName === responseBody);
    return field ? json[field.jsonName] ?? null : json;
  };

  /** The RpcError for anything thrown, reporting non-RpcErrors as internal errors. */
  const failure = (route: Route, err: unknown): RpcError => {
    if (!(err instanceof RpcError)) {
      options.onInternalError(`${route.service.typeName}/${route.method.name}`, err);
    }
    return toRpcError(err);
  };

  return async function dispatch(c: Context): Promise<Response> {
    const url = new URL(c.req.url);
    const head = c.req.method === "HEAD";
    const match = matchRoute(routes, head ? "GET" : c.req.method, url.pathname);
    if (match.kind === "not_found") {
      return errorResponse(
        new RpcError(Code.NOT_FOUND, `no route for ${c.req.method} ${url.pathname}`),
      );
    }
    if (match.kind === "method_not_allowed") {
      const allowed = match.allowed.join(", ");
      const err = new RpcError(
        Code.UNIMPLEMENTED,
        `method ${c.req.method} is not allowed for ${url.pathname} (allowed: ${allowed})`,
      );
      return jsonResponse(errorBody(err), 405, new Headers({ allow: allowed }));
    }
    const { route, variables } = match;
    const { method, service } = route;
    c.set("route", route.template.source);
    const serviceImpl = impls.get(service);
    const handler = serviceImpl?.[method.localName] as Handler | undefined;
    if (typeof handler !== "function") {
      return errorResponse(
        new RpcError(
          Code.UNIMPLEMENTED,
          `${service.typeName}/${method.name} is not implemented yet`,
        ),
      );
    }
    if (method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming") {
      return errorResponse(
        new RpcError(
          Code.UNIMPLEMENTED,
          `${service.typeName}/${method.name} streams requests, which HTTP/JSON does not support`,
        ),
      );
    }
    const streaming = method.methodKind === "server_streaming";
    const sse = streaming && (c.req.header("accept") ?? "").includes(SSE_TYPE);
    if (head && streaming) {
      return new Response(null, { headers: { "content-type": sse ? SSE_TYPE : NDJSON_TYPE } });
    }

    let request: unknown;
    try {
      const body = route.body === "" ? undefined : await c.req.text();
      request = decodeRequest(route, { variables, query: url.searchParams, body }, { registry });
    } catch (err) {
      return errorResponse(toRpcError(err), registry);
    }

    // A client disconnect aborts a stream through the body's cancel(). Request.signal is
    // not used: in Deno.serve it also aborts after every successful response (and reading
    // it prints a warning), so unary handlers run to completion.
    const ctx = new GatewayCallContext(c.req.raw, c.env, currentTrace());

    if (!streaming) {
      try {
        const result = await handler.call(serviceImpl, request, ctx);
        return jsonResponse(
          encode(method.output, result, route.responseBody),
          200,
          ctx.responseHeadersIfUsed,
        );
      } catch (err) {
        return errorResponse(failure(route, err), registry, ctx.responseHeadersIfUsed);
      }
    }

    let iterator: AsyncIterator<unknown>;
    let first: Promise<IteratorResult<unknown>>;
    try {
      iterator = traceIterable(
        ctx.trace,
        () => handler.call(serviceImpl, request, ctx) as AsyncIterable<unknown>,
      )[Symbol.asyncIterator]();
      first = iterator.next();
    } catch (err) {
      return errorResponse(failure(route, err), registry, ctx.responseHeaders);
    }
    // Give the handler a moment so an error it raises before streaming gets its own status.
    const early = await within(first, options.streamStartMs);
    if (early && !early.ok) {
      return errorResponse(failure(route, early.error), registry, ctx.responseHeaders);
    }
    return streamResponse({
      iterator,
      first,
      encode: (item) => encode(method.output, item, route.responseBody),
      errorBody: (err) => errorBody(failure(route, err), registry),
      sse,
      keepAliveMs: options.keepAliveMs,
      onClientGone: () => ctx.abort(new RpcError(Code.CANCELLED, "the client closed the request")),
      headers: ctx.responseHeaders,
    });
  };
}
