/**
 * The gateway's defence against web pages (CSRF) and DNS rebinding, before anything else
 * (authentication included) looks at a request:
 * - every request: the Host must be allowed by the HostPolicy, else 403;
 * - a state-changing request (not GET, HEAD or OPTIONS) carrying an `Origin` must come
 *   from the same origin or an allowed one, else 403;
 * - a state-changing request with a body must say `Content-Type: application/json`, else
 *   415: forms and `text/plain`, which any page may send anywhere, are never accepted.
 *   A request without a body and without a content type (`curl -X POST .../x:restart`)
 *   passes.
 *
 * `hono/csrf` is not used: it checks the Origin only for form and text content types
 * (which the 415 rule refuses anyway) and answers in plain text; this refuses any foreign
 * Origin on a state-changing request, with the gateway's JSON error body.
 */
import type { Context, MiddlewareHandler } from "hono";
import { Code } from "@callassistant/rpc";
import type { HostPolicy } from "../../security/hosts.ts";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

function refusal(status: number, code: Code, message: string): Response {
  return new Response(JSON.stringify({ code, message, details: [] }), {
    status,
    headers: { "content-type": "application/json" },
  });
}

/** True when the request came over TLS (told by the listener, or by the URL). */
export function isSecure(c: Context): boolean {
  return (c.env as { secure?: unknown } | undefined)?.secure === true ||
    new URL(c.req.url).protocol === "https:";
}

/** The middleware (see the module comment). */
export function requestGuard(policy: HostPolicy): MiddlewareHandler {
  return async (c, next) => {
    const url = new URL(c.req.url);
    const host = c.req.header("host") ?? url.host;
    const hostProblem = policy.hostProblem(host);
    if (hostProblem) return refusal(403, Code.PERMISSION_DENIED, hostProblem);
    if (SAFE_METHODS.has(c.req.method)) return await next();
    const origin = c.req.header("origin");
    if (origin !== undefined) {
      const problem = policy.originProblem(origin, host, isSecure(c));
      if (problem) return refusal(403, Code.PERMISSION_DENIED, problem);
    }
    const type = c.req.header("content-type");
    const hasBody = type !== undefined || c.req.header("transfer-encoding") !== undefined ||
      Number(c.req.header("content-length") ?? "0") > 0;
    if (hasBody && !JSON_TYPE.test(type ?? "")) {
      return refusal(
        415,
        Code.INVALID_ARGUMENT,
        `${c.req.method} requests must send their body as JSON with Content-Type: ` +
          `application/json (got ${type ? `"${type}"` : "no content type"})`,
      );
    }
    await next();
  };
}
