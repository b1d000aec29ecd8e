/**
 * The gateway's routes that are not RPCs: `/healthz`, `/readyz`, `/openapi.json` and
 * (when metrics are given) `/metrics`.
 */
import type { DescService } from "@bufbuild/protobuf";
import type { Hono } from "hono";
import type { JsonObject } from "@bufbuild/protobuf";
import { jsonResponse } from "./error_response.ts";
import { openApiDocument, type OpenApiInfo } from "./openapi.ts";

/** The paths of the routes that are not RPCs, each its own route label in the metrics. */
export const FIXED_ROUTES: ReadonlySet<string> = new Set([
  "/healthz",
  "/readyz",
  "/openapi.json",
  "/metrics",
  "/v1/session",
]);

/** What the fixed routes answer from. */
export interface FixedRouteOptions {
  /** The services `/openapi.json` describes. */
  readonly services: readonly DescService[];
  /** The FileDescriptorSet (base64) whose comments describe `/openapi.json`. */
  readonly descriptorSetBase64: string;
  /** Title and version of `/openapi.json`. */
  readonly openApiInfo?: OpenApiInfo;
  /** Whether `/readyz` answers 200 (else 503). Default: always ready. */
  readonly isReady?: () => boolean;
  /** Serves `GET /metrics` with the text this returns (Prometheus text format 0.0.4). */
  readonly metrics?: () => Promise<string> | string;
}

/** Mounts the fixed routes on `app`. */
export function mountFixedRoutes(app: Hono, options: FixedRouteOptions): void {
  let openApi: JsonObject | undefined;
  app.get("/healthz", () => jsonResponse({ status: "ok" }, 200));
  app.get(
    "/readyz",
    () =>
      (options.isReady?.() ?? true)
        ? jsonResponse({ status: "ready" }, 200)
        : jsonResponse({ status: "not ready" }, 503),
  );
  app.get("/openapi.json", () => {
    // Built on first use: most processes never serve it.
    openApi ??= openApiDocument(
      options.services,
      options.descriptorSetBase64,
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
}
