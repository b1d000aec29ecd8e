/**
 * The HTTP/JSON gateway: a Hono app that serves transport-agnostic service
 * implementations in-process at the routes of their `google.api.http` annotations (and
 * `POST /<package>.<Service>/<Method>`), plus `/healthz`, `/readyz` and `/openapi.json`.
 * With `auth`, every request needs the bearer token or the session cookie set by
 * `POST /v1/session` (see {@link GatewayAuth}). Serve it with `Deno.serve(app.fetch)`.
 *
 * This file wires the parts together, in order: request telemetry, body limits, the
 * Host/Origin guard, CORS, authentication, the fixed routes, extra routes, RPC dispatch.
 */
import { createRegistry, type DescFile, type DescService, type Registry } from "@bufbuild/protobuf";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { HTTPException } from "hono/http-exception";
import { DESCRIPTOR_SET_BASE64 } from "@callassistant/protocol/descriptor-set";
import { Code, RpcError } from "@callassistant/rpc";
import type { PartialServiceImpl } from "@callassistant/rpc";
import { HostPolicy } from "../security/hosts.ts";
import { requestGuard } from "./middleware/request_guard.ts";
import { bodyDeadline } from "./middleware/body_deadline.ts";
import { type GatewayAuth, mountSessionAuth } from "./middleware/session_auth.ts";
import { requestTelemetry } from "./middleware/request_telemetry.ts";
import { ERROR_DETAIL_FILES } from "../api_conventions/error_details.ts";
import { errorBody, errorResponse, jsonResponse } from "./error_response.ts";
import { FIXED_ROUTES, mountFixedRoutes } from "./fixed_routes.ts";
import type { OpenApiInfo } from "./openapi.ts";
import { buildRoutes } from "./route_table.ts";
import { rpcDispatcher } from "./rpc_dispatch.ts";

/** A service and the object implementing its methods (by local name). */
export interface GatewayService {
  /** The generated service descriptor. */
  readonly service: DescService;
  /** One handler per method, as in `ServiceImpl`; missing methods answer UNIMPLEMENTED. */
  readonly impl: object;
}

/** Called with every error a handler throws that is not an RpcError (a bug or a crash). */
export type GatewayInternalErrorHook = (method: string, err: unknown) => void;

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

/** Every file the services are declared in, with their dependencies. */
function defaultRegistry(services: readonly GatewayService[]): Registry {
  const files = new Set<DescFile>();
  const visit = (file: DescFile) => {
    if (files.has(file)) return;
    files.add(file);
    file.dependencies.forEach(visit);
  };
  services.forEach((s) => visit(s.service.file));
  ERROR_DETAIL_FILES.forEach(visit);
  return createRegistry(...files);
}

/** Creates the gateway app for the given services. */
export function createGateway(options: GatewayOptions): Hono {
  const registry = options.registry ?? defaultRegistry(options.services);
  const limit = options.bodyLimitBytes ?? 1024 * 1024;
  const onInternalError = options.onInternalError ??
    ((method: string, err: unknown) => console.error(`gateway: ${method} failed:`, err));
  const services: DescService[] = options.services.map((s) => s.service);

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
  app.use("*", requestTelemetry(FIXED_ROUTES, options.onRequest));
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
  if (options.auth) mountSessionAuth(app, options.auth);
  mountFixedRoutes(app, {
    services,
    descriptorSetBase64: options.descriptorSetBase64 ?? DESCRIPTOR_SET_BASE64,
    openApiInfo: options.openApiInfo,
    isReady: options.isReady,
    metrics: options.metrics,
  });
  options.extraRoutes?.(app);
  app.all(
    "*",
    rpcDispatcher({
      routes: buildRoutes(services),
      impls: new Map(options.services.map((s) => [s.service, s.impl as Record<string, unknown>])),
      registry,
      keepAliveMs: options.sseKeepAliveMs ?? 15_000,
      streamStartMs: options.streamStartMs ?? 50,
      onInternalError,
    }),
  );
  return app;
}
