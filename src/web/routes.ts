/**
 * Serves the dashboard: the page at `GET /` and its files at `GET /ui/*`, from the
 * embedded assets, with a strict Content-Security-Policy (this origin only: no inline
 * script or style, no other host) and ETag revalidation. Mount with
 * `createGateway({ extraRoutes: dashboardRoutes })`.
 */
import type { Context, Hono } from "hono";
import { type Asset, ASSETS } from "./assets.ts";

/** The Content-Security-Policy of every dashboard response. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  // The live preview's <video> (HLS relayed on this origin, see preview.ts).
  "media-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/** A weak ETag from the content (FNV-1a over the UTF-16 code units, and the length). */
function etagOf(body: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < body.length; i++) {
    hash ^= body.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return `W/"${body.length.toString(16)}-${hash.toString(16).padStart(8, "0")}"`;
}

const ETAGS = new Map<string, string>([...ASSETS.values()].map((a) => [a.path, etagOf(a.body)]));

function securityHeaders(contentType: string, etag: string): Headers {
  return new Headers({
    "content-type": contentType,
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    // Revalidate every time (cheap with the ETag), so an upgraded binary is seen at once.
    "cache-control": "no-cache",
    "etag": etag,
  });
}

function serve(c: Context, asset: Asset): Response {
  const etag = ETAGS.get(asset.path)!;
  const headers = securityHeaders(asset.contentType, etag);
  const match = c.req.header("if-none-match");
  if (match && match.split(",").some((tag) => tag.trim() === etag || tag.trim() === "*")) {
    headers.delete("content-type");
    return new Response(null, { status: 304, headers });
  }
  return new Response(asset.body, { status: 200, headers });
}

/** Mounts the dashboard routes (`GET /` and `GET /ui/<file>`; HEAD too) on `app`. */
export function dashboardRoutes(app: Hono): void {
  for (const asset of ASSETS.values()) {
    app.get(asset.path, (c) => serve(c, asset));
  }
}

const DASHBOARD_PATHS = new Set([...ASSETS.values()].map((a) => a.path));

/**
 * True for the dashboard's static files (`GET`/`HEAD` of `/` and `/ui/*`), which need no
 * credentials: the page asks for the access token itself when the API answers 401.
 */
export function isDashboardAsset(method: string, path: string): boolean {
  return (method === "GET" || method === "HEAD") &&
    (DASHBOARD_PATHS.has(path) || path.startsWith("/ui/"));
}
