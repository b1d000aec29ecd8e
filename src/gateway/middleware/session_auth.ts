/**
 * Bearer-token authentication of the gateway, with Hono's `bearerAuth` for the
 * `Authorization` header and `hono/cookie` for the dashboard's session cookie, and the
 * two session routes that set and clear that cookie.
 */
import type { Context, Hono } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { Code, RpcError } from "@callassistant/rpc";
import { createAuthenticator, SESSION_COOKIE } from "../../security/auth.ts";
import { errorResponse } from "../error_response.ts";
import { isSecure } from "./request_guard.ts";

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

/** The routes of the dashboard's sign-in, outside the proto API. */
export const SESSION_PATH = "/v1/session";

/** Paths open without credentials even when authentication is on. */
export const OPEN_PATHS: ReadonlySet<string> = new Set(["/healthz", "/readyz", SESSION_PATH]);

const MISSING = "authentication required: send the header Authorization: Bearer <token> " +
  "(or sign in with POST /v1/session)";
const WRONG = "invalid credentials: the token is wrong";

function unauthenticated(message: string): Response {
  return errorResponse(
    new RpcError(Code.UNAUTHENTICATED, message),
    undefined,
    new Headers({ "www-authenticate": "Bearer" }),
  );
}

/** Mounts the credentials check and the session routes (see {@link GatewayAuth}). */
export function mountSessionAuth(app: Hono, auth: GatewayAuth): void {
  const authenticator = createAuthenticator(auth.token);
  // Every failure answers our JSON error body with 401, also for a malformed header
  // (which bearerAuth alone would answer 400).
  const checkBearer = bearerAuth({
    verifyToken: (token) => authenticator.checkToken(token),
    noAuthenticationHeader: {
      message: (c: Context) =>
        unauthenticated(getCookie(c, SESSION_COOKIE) === undefined ? MISSING : WRONG),
    },
    invalidAuthenticationHeader: { message: () => unauthenticated(WRONG) },
    invalidToken: { message: () => unauthenticated(WRONG) },
  });
  app.use("*", async (c, next) => {
    const path = new URL(c.req.url).pathname;
    if (OPEN_PATHS.has(path) || auth.isPublic?.(c.req.method, path)) return await next();
    if (authenticator.checkSession(getCookie(c, SESSION_COOKIE))) return await next();
    return await checkBearer(c, next);
  });
  const cookieOptions = (c: Context) => ({
    httpOnly: true,
    sameSite: "Strict" as const,
    path: "/",
    secure: isSecure(c),
  });
  app.post(SESSION_PATH, async (c) => {
    let token: unknown;
    try {
      token = (JSON.parse(await c.req.text()) as { token?: unknown } | null)?.token;
    } catch {
      token = undefined;
    }
    if (typeof token !== "string") {
      return errorResponse(
        new RpcError(Code.INVALID_ARGUMENT, 'expected a JSON body {"token": "..."}'),
      );
    }
    if (!authenticator.checkToken(token)) return unauthenticated(WRONG);
    setCookie(c, SESSION_COOKIE, authenticator.sessionValue, cookieOptions(c));
    return c.body(null, 204);
  });
  app.delete(SESSION_PATH, (c) => {
    deleteCookie(c, SESSION_COOKIE, cookieOptions(c));
    return c.body(null, 204);
  });
}
