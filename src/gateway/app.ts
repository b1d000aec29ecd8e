/**
 * The HTTP/JSON gateway: a Hono app that serves transport-agnostic service
 * implementations in-process at the routes of their `google.api.http` annotations (and
 * `POST /<package>.<Service>/<Method>`), plus `/healthz`, `/readyz` and `/openapi.json`.
 * With `auth`, every request needs the bearer token or the session cookie set by
 * `POST /v1/session` (see {@link GatewayAuth}). Serve it with `Deno.serve(app.fetch)`.
 */
import {
  create,
  createRegistry,
  type DescFile,
  type DescMessage,
  type DescService,
  isMessage,
  type JsonObject,
  type JsonValue,
  type MessageInitShape,
  type Registry,
  toJson,
} from "@bufbuild/protobuf";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import { anyPack, AnySchema } from "@bufbuild/protobuf/wkt";
import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { HTTPException } from "hono/http-exception";
import { DESCRIPTOR_SET_BASE64 } from "@callassistant/protocol/descriptor-set";
import { Code, httpStatusFor, RpcError, toRpcError } from "@callassistant/rpc";
import type { CallContext, PartialServiceImpl } from "@callassistant/rpc";
import {
  currentTrace,
  formatTraceparent,
  parseTraceparent,
  runWithTrace,
  type TraceContext,
  traceIterable,
} from "@callassistant/rpc";
import { activeOtelTrace, startSpan } from "@callassistant/rpc";
import { createAuthenticator, SESSION_COOKIE } from "../security/auth.ts";
import { HostPolicy } from "../security/hosts.ts";
import { isSecure, requestGuard } from "./middleware/request_guard.ts";
import { bodyDeadline } from "./middleware/body_deadline.ts";
import { openApiDocument, type OpenApiInfo } from "./openapi.ts";
import { buildRoutes, decodeRequest, matchRoute, type Route } from "./transcoder.ts";

/** A service and the object implementing its methods (by local name). */
export interface GatewayService {
  /** The generated service descriptor. */
  readonly service: DescService;
  /** One handler per method, as in `ServiceImpl`; missing methods answer UNIMPLEMENTED. */
  readonly impl: object;
}

/** Called with every error a handler throws that is not an RpcError (a bug or a crash). */
export type GatewayInternalErrorHook = (method: string, err: unknown) => void;

/**
 * Bearer-token authentication of the gateway. Every request needs `Authorization: Bearer
 * <token>` or the session cookie, except `/healthz`, `/readyz`, the session routes and
 * what `isPublic` allows; others get 401 (code UNAUTHENTICATED) with
 * `WWW-Authenticate: Bearer`.
 *
 * Browsers (EventSource cannot send headers) sign in with two routes outside the proto API:
 * `POST /v1/session` with `{"token": "..."}` sets an HttpOnly, SameSite=Strict cookie holding
 * an HMAC of the token and answers 204 (401 for a wrong token); `DELETE /v1/session` clears
 * it (204).
 */
export interface GatewayAuth {
  /** The token (compared in constant time). */
  readonly token: string;
  /** Requests that need no credentials (e.g. the dashboard's static files). */
  readonly isPublic?: (method: string, path: string) => boolean;
}

/** Options of {@link createGateway}. */
export interface GatewayOptions {
  /** The services to serve. */
  readonly services: readonly GatewayService[];
  /** The largest request body accepted, in bytes; larger ones get 413. Default 1 MiB. */
  readonly bodyLimitBytes?: number;
  /** How long a request body may take to arrive; slower ones get 408. Default 30 000 ms. */
  readonly bodyTimeoutMs?: number;
  /** Whether `/readyz` answers 200 (else 503). Default: always ready. */
  readonly isReady?: () => boolean;
  /** Mounts more routes (`/metrics`, the dashboard) before the gateway's catch-all. */
  readonly extraRoutes?: (app: Hono) => void;
  /** Type registry for `google.protobuf.Any`; default: every type the services' files reach. */
  readonly registry?: Registry;
  /** The FileDescriptorSet (base64) whose comments describe `/openapi.json`. */
  readonly descriptorSetBase64?: string;
  /** Title and version of `/openapi.json`. */
  readonly openApiInfo?: OpenApiInfo;
  /** Interval of SSE keep-alive comments in ms; 0 for none. Default 15 000. */
  readonly sseKeepAliveMs?: number;
  /**
   * How long a streaming call may take to produce its first item before the response
   * headers are sent (so an early error still gets its own HTTP status), in ms. Default 50.
   */
  readonly streamStartMs?: number;
  /** Told about unexpected handler errors (answered as INTERNAL). Default: console.error. */
  readonly onInternalError?: GatewayInternalErrorHook;
  /**
   * Told when each request has been answered: the HTTP method, the route (the path
   * template of the RPC, e.g. `/v1/modules/{name}`, the fixed path of the other routes,
   * or `unmatched`), the status and the seconds to the response headers.
   */
  readonly onRequest?: (method: string, route: string, status: number, seconds: number) => void;
  /** Serves `GET /metrics` with the text this returns (Prometheus text format 0.0.4). */
  readonly metrics?: () => Promise<string> | string;
  /** Requires a bearer token (or the session cookie) on every request but a few. */
  readonly auth?: GatewayAuth;
  /**
   * The Host names and Origins accepted (see `request_guard.ts`); loopback names only by
   * default. Allowed origins also get CORS answers, so their pages can read the API.
   */
  readonly hosts?: HostPolicy;
}

/** Pairs a generated service with a typed (possibly partial) implementation. */
export function bindService<S extends GenService<GenServiceMethods>>(
  service: S,
  impl: PartialServiceImpl<S>,
): GatewayService {
  return { service, impl: impl as object };
}

type Handler = (request: unknown, ctx: CallContext) => unknown;

/** Routes that are not RPCs, used as their own route label. */
const FIXED_ROUTES = new Set(["/healthz", "/readyz", "/openapi.json", "/metrics", "/v1/session"]);

/** The routes of the dashboard's sign-in, outside the proto API. */
const SESSION_PATH = "/v1/session";

/** Paths open without credentials even when authentication is on. */
const OPEN_PATHS = new Set(["/healthz", "/readyz", SESSION_PATH]);

const JSON_TYPE = "application/json";
const NDJSON_TYPE = "application/x-ndjson";
const SSE_TYPE = "text/event-stream";

function isJsonObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Every file the services are declared in, with their dependencies. */
function defaultRegistry(services: readonly GatewayService[]): Registry {
  const files = new Set<DescFile>();
  const visit = (file: DescFile) => {
    if (files.has(file)) return;
    files.add(file);
    file.dependencies.forEach(visit);
  };
  services.forEach((s) => visit(s.service.file));
  return createRegistry(...files);
}

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
function jsonResponse(body: JsonValue, status: number, headers?: Headers): Response {
  if (!headers) {
    return new Response(JSON.stringify(body), { status, headers: { "content-type": JSON_TYPE } });
  }
  headers.set("content-type", JSON_TYPE);
  return new Response(JSON.stringify(body), { status, headers });
}

function errorResponse(err: RpcError, registry?: Registry, headers?: Headers): Response {
  return jsonResponse(errorBody(err, registry), httpStatusFor(err.code), headers);
}

function peerOf(env: unknown): string {
  const addr = (env as { remoteAddr?: { hostname?: unknown; port?: unknown } } | undefined)
    ?.remoteAddr;
  if (typeof addr?.hostname !== "string") return "unknown";
  return addr.hostname.includes(":")
    ? `ipv6:[${addr.hostname}]:${addr.port}`
    : `ipv4:${addr.hostname}:${addr.port}`;
}

/** The SSE `id:` of an item: its `event.id` or `entry.sequence`, when present. */
function sseId(json: JsonValue): string | undefined {
  if (!isJsonObject(json)) return undefined;
  for (const [outer, inner] of [["event", "id"], ["entry", "sequence"]]) {
    const o = json[outer];
    if (isJsonObject(o)) {
      const v = o[inner];
      if (typeof v === "string" || typeof v === "number") return String(v);
    }
  }
  return undefined;
}

/**
 * The CallContext of one gateway call. The request headers' copy, the abort signal, the
 * peer and the response headers are made when a handler first asks for them.
 */
class GatewayCallContext implements CallContext {
  #headers?: Headers;
  #abort?: AbortController;
  #peer?: string;
  #responseHeaders?: Headers;

  constructor(
    private readonly request: Request,
    private readonly env: unknown,
    readonly trace: TraceContext | undefined,
  ) {}

  get headers(): Headers {
    return this.#headers ??= new Headers(this.request.headers);
  }

  get signal(): AbortSignal {
    return (this.#abort ??= new AbortController()).signal;
  }

  get peer(): string {
    return this.#peer ??= peerOf(this.env);
  }

  get responseHeaders(): Headers {
    return this.#responseHeaders ??= new Headers();
  }

  /** The response headers, if the handler asked for them. */
  get responseHeadersIfUsed(): Headers | undefined {
    return this.#responseHeaders;
  }

  /** Aborts the signal: the client went away. */
  abort(reason: unknown): void {
    (this.#abort ??= new AbortController()).abort(reason);
  }
}

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

function unauthenticated(message: string): Response {
  return errorResponse(
    new RpcError(Code.UNAUTHENTICATED, message),
    undefined,
    new Headers({ "www-authenticate": "Bearer" }),
  );
}

/** The credentials check and the session routes (see {@link GatewayAuth}). */
function mountAuth(app: Hono, auth: GatewayAuth): void {
  const authenticator = createAuthenticator(auth.token);
  app.use("*", async (c, next) => {
    const path = new URL(c.req.url).pathname;
    if (OPEN_PATHS.has(path) || auth.isPublic?.(c.req.method, path)) return await next();
    const result = authenticator.checkHeaders(c.req.raw.headers);
    if (result === "ok") return await next();
    return unauthenticated(
      result === "missing"
        ? "authentication required: send the header Authorization: Bearer <token> " +
          "(or sign in with POST /v1/session)"
        : "invalid credentials: the token is wrong",
    );
  });
  const cookie = (c: Context, value: string, extra: string) => {
    const secure = isSecure(c) ? "; Secure" : "";
    return `${SESSION_COOKIE}=${value}; HttpOnly; SameSite=Strict; Path=/${extra}${secure}`;
  };
  app.post(SESSION_PATH, async (c) => {
    let token: unknown;
    try {
      token = (JSON.parse(await c.req.text()) as { token?: unknown } | null)?.token;
    } catch {
      return errorResponse(
        new RpcError(Code.INVALID_ARGUMENT, 'expected a JSON body {"token": "..."}'),
      );
    }
    if (typeof token !== "string") {
      return errorResponse(
        new RpcError(Code.INVALID_ARGUMENT, 'expected a JSON body {"token": "..."}'),
      );
    }
    if (!authenticator.checkToken(token)) {
      return unauthenticated("invalid credentials: the token is wrong");
    }
    return new Response(null, {
      status: 204,
      headers: { "set-cookie": cookie(c, authenticator.sessionValue, "") },
    });
  });
  app.delete(SESSION_PATH, (c) =>
    new Response(null, {
      status: 204,
      headers: { "set-cookie": cookie(c, "", "; Max-Age=0") },
    }));
}

/** Creates the gateway app for the given services. */
export function createGateway(options: GatewayOptions): Hono {
  const routes = buildRoutes(options.services.map((s) => s.service));
  const impls = new Map<DescService, Record<string, unknown>>(
    options.services.map((s) => [s.service, s.impl as Record<string, unknown>]),
  );
  const registry = options.registry ?? defaultRegistry(options.services);
  const limit = options.bodyLimitBytes ?? 1024 * 1024;
  const keepAliveMs = options.sseKeepAliveMs ?? 15_000;
  const streamStartMs = options.streamStartMs ?? 50;
  const onInternalError = options.onInternalError ??
    ((method: string, err: unknown) => console.error(`gateway: ${method} failed:`, err));
  let openApi: JsonObject | undefined;

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
      onInternalError(`${route.service.typeName}/${route.method.name}`, err);
    }
    return toRpcError(err);
  };

  const app = new Hono();

  app.onError((err, c) => {
    if (err instanceof HTTPException) return err.getResponse();
    onInternalError(`${c.req.method} ${new URL(c.req.url).pathname}`, err);
    return errorResponse(new RpcError(Code.INTERNAL, "internal error"));
  });
  app.notFound((c) =>
    errorResponse(
      new RpcError(Code.NOT_FOUND, `no route for ${c.req.method} ${new URL(c.req.url).pathname}`),
    )
  );
  // Tracing and request metrics: the caller's `traceparent` is continued in a new span
  // (or a new trace is started), current while the request is handled, and returned as
  // the `traceparent` response header.
  const routes_ = new WeakMap<Request, string>();
  app.use("*", async (c, next) => {
    const started = performance.now();
    const parent = activeOtelTrace() ?? parseTraceparent(c.req.header("traceparent"));
    const span = startSpan(`HTTP ${c.req.method}`, "server", parent, {
      "http.request.method": c.req.method,
    });
    try {
      await runWithTrace(span.trace, () => next());
    } finally {
      const traceparent = formatTraceparent(span.trace);
      try {
        c.res.headers.set("traceparent", traceparent);
      } catch {
        // Immutable headers: copy the response.
        c.res = new Response(c.res.body, c.res);
        c.res.headers.set("traceparent", traceparent);
      }
      const status = c.res.status;
      const route = routes_.get(c.req.raw) ??
        (FIXED_ROUTES.has(new URL(c.req.url).pathname) ? new URL(c.req.url).pathname : "unmatched");
      span.end(status >= 500 ? { code: status, message: `HTTP ${status}` } : undefined);
      options.onRequest?.(c.req.method, route, status, (performance.now() - started) / 1000);
    }
  });
  app.use(
    "*",
    bodyLimit({
      maxSize: limit,
      onError: () =>
        jsonResponse(
          errorBody(
            new RpcError(
              Code.RESOURCE_EXHAUSTED,
              `request body is larger than the limit of ${limit} bytes`,
            ),
          ),
          413,
        ),
    }),
  );
  const hosts = options.hosts ?? new HostPolicy();
  app.use("*", requestGuard(hosts));
  app.use("*", bodyDeadline(options.bodyTimeoutMs ?? 30_000));
  if (hosts.allowedOrigins.length > 0) {
    app.use(
      "*",
      cors({
        origin: [...hosts.allowedOrigins],
        allowMethods: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
        allowHeaders: ["content-type", "authorization", "traceparent", "last-event-id"],
        exposeHeaders: ["traceparent"],
        maxAge: 600,
      }),
    );
  }
  if (options.auth) mountAuth(app, options.auth);
  app.get("/healthz", () => jsonResponse({ status: "ok" }, 200));
  app.get(
    "/readyz",
    () =>
      (options.isReady?.() ?? true)
        ? jsonResponse({ status: "ready" }, 200)
        : jsonResponse({ status: "not ready" }, 503),
  );
  app.get("/openapi.json", () => {
    openApi ??= openApiDocument(
      options.services.map((s) => s.service),
      options.descriptorSetBase64 ?? DESCRIPTOR_SET_BASE64,
      options.openApiInfo,
    );
    return jsonResponse(openApi, 200);
  });
  if (options.metrics) {
    const render = options.metrics;
    app.get("/metrics", async () =>
      new Response(await render(), {
        headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
      }));
  }
  options.extraRoutes?.(app);
  app.all("*", (c) => dispatch(c));

  async function dispatch(c: Context): Promise<Response> {
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
    routes_.set(c.req.raw, route.template.source);
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
    const onClientGone = () =>
      ctx.abort(new RpcError(Code.CANCELLED, "the client closed the request"));

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
    const early = await within(first, streamStartMs);
    if (early && !early.ok) {
      return errorResponse(failure(route, early.error), registry, ctx.responseHeaders);
    }

    const encoder = new TextEncoder();
    const frame = (json: JsonValue): Uint8Array => {
      if (!sse) return encoder.encode(`${JSON.stringify(json)}\n`);
      const id = sseId(json);
      return encoder.encode(
        `${id === undefined ? "" : `id: ${id}\n`}data: ${JSON.stringify(json)}\n\n`,
      );
    };
    const errorFrame = (err: RpcError): Uint8Array => {
      const body = errorBody(err, registry);
      return encoder.encode(
        sse
          ? `event: error\ndata: ${JSON.stringify(body)}\n\n`
          : `${JSON.stringify({ error: body })}\n`,
      );
    };
    let pending: Promise<IteratorResult<unknown>> | undefined = first;
    let finished = false;
    let keepAlive: ReturnType<typeof setInterval> | undefined;
    const finish = () => {
      finished = true;
      clearInterval(keepAlive);
    };

    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        if (sse && keepAliveMs > 0) {
          keepAlive = setInterval(() => {
            if (!finished) controller.enqueue(encoder.encode(": keep-alive\n\n"));
          }, keepAliveMs);
        }
      },
      async pull(controller) {
        try {
          const next = pending ?? iterator.next();
          pending = undefined;
          const result = await next;
          if (finished) return;
          if (result.done) {
            finish();
            controller.close();
            return;
          }
          controller.enqueue(frame(encode(method.output, result.value, route.responseBody)));
        } catch (err) {
          if (finished) return;
          finish();
          controller.enqueue(errorFrame(failure(route, err)));
          controller.close();
        }
      },
      cancel() {
        if (finished) return;
        finish();
        onClientGone();
        try {
          iterator.return?.().catch(() => {});
        } catch {
          // The handler's iterator could not be closed; its signal is aborted anyway.
        }
      },
    });

    const headers = new Headers(ctx.responseHeaders);
    headers.set("content-type", sse ? `${SSE_TYPE}; charset=utf-8` : NDJSON_TYPE);
    headers.set("cache-control", "no-cache");
    if (sse) headers.set("x-accel-buffering", "no");
    return new Response(stream, { status: 200, headers });
  }

  return app;
}
