/**
 * Tracing and request metrics of the gateway: the caller's `traceparent` is continued in
 * a new span (or a new trace is started), current while the request is handled, and
 * returned as the `traceparent` response header; when the request has been answered,
 * `onRequest` hears its method, route label, status and duration.
 */
import type { MiddlewareHandler } from "hono";
import {
  activeOtelTrace,
  formatTraceparent,
  parseTraceparent,
  runWithTrace,
  startSpan,
} from "@callassistant/rpc";

declare module "hono" {
  interface ContextVariableMap {
    /** The route label of the request (`c.set("route", ...)`), e.g. `/v1/modules/{name}`. */
    route: string;
  }
}

/** Told when a request has been answered (see {@link requestTelemetry}). */
export type RequestHook = (method: string, route: string, status: number, seconds: number) => void;

/**
 * The middleware. The route label is what a handler set with `c.set("route", ...)` (the
 * RPC's path template), else the path when it is one of `fixedRoutes`, else `unmatched`:
 * never the raw path, so the metrics' label values stay few.
 */
export function requestTelemetry(
  fixedRoutes: ReadonlySet<string>,
  onRequest?: RequestHook,
): MiddlewareHandler {
  return async (c, next) => {
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
      const path = new URL(c.req.url).pathname;
      const route = c.get("route") ?? (fixedRoutes.has(path) ? path : "unmatched");
      span.end(status >= 500 ? { code: status, message: `HTTP ${status}` } : undefined);
      onRequest?.(c.req.method, route, status, (performance.now() - started) / 1000);
    }
  };
}
