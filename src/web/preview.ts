/**
 * The dashboard's live preview: the media an entity sends on a flow's connection (a
 * converter's MJPEG or HLS, a bridge's WHEP), relayed through the orchestrator's own
 * origin, so the dashboard keeps its strict CSP (`connect-src 'self'`, `media-src 'self'`)
 * and the browser asks nothing of another host. Only addresses that a module answered for
 * a connection are fetched (never a URL from the request), and only http(s) ones.
 *
 * Routes (behind the gateway's authentication, like `/v1`):
 * - `GET /preview/entities/{id}`: what can be previewed, `{entityId, protocol, flowId,
 *   connectionId, url}` (url is the relayed one below), or 404 with the reason;
 * - `GET /preview/entities/{id}/mjpeg`: the multipart JPEG stream;
 * - `GET /preview/entities/{id}/hls/{file}`: the playlist (`index.m3u8`) and segments;
 * - `POST /preview/entities/{id}/whep` with `{"sdp": offer}` (JSON: the gateway's CSRF guard
 *   takes no other body), answered `201 {"sdp": answer, "location": ...}`, and
 *   `DELETE .../whep/{session}`: WHEP relayed.
 */
import type { Context, Hono } from "hono";
import type { Connection } from "@callassistant/protocol";

/** The protocols a browser plays (see docs/media.md). */
export const BROWSER_PROTOCOLS = ["webrtc", "hls", "mjpeg"] as const;

/** What the preview of an entity plays. */
export interface PreviewSource {
  entityId: string;
  protocol: string;
  flowId: string;
  connectionId: string;
  /** The sender's address, as it answered ConnectEntities. */
  address: string;
}

/** The connections of every flow, most recent last (what the preview searches). */
export type ConnectionsSource = () => Connection[];

/**
 * The first connection on which `entityId` sends a browser-playable format from an http(s)
 * address; undefined when there is none.
 */
export function previewSourceOf(
  connections: Connection[],
  entityId: string,
): PreviewSource | undefined {
  for (const c of connections) {
    const protocol = c.format?.protocol ?? "";
    if (c.sourceEntityId !== entityId) continue;
    if (!(BROWSER_PROTOCOLS as readonly string[]).includes(protocol)) continue;
    if (!/^https?:\/\//.test(c.address)) continue;
    return {
      entityId,
      protocol,
      flowId: c.flowId,
      connectionId: c.id,
      address: c.address,
    };
  }
  return undefined;
}

const MEDIA_HEADERS = {
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
  "cross-origin-resource-policy": "same-origin",
};

function problem(status: number, message: string): Response {
  return new Response(JSON.stringify({ code: status, message }), {
    status,
    headers: { "content-type": "application/json", ...MEDIA_HEADERS },
  });
}

/** Relays `url` with the request's method and body, keeping the answer's type and status. */
async function relay(
  c: Context,
  url: string,
  init: RequestInit = {},
  keep: string[] = [],
): Promise<Response> {
  let upstream: Response;
  try {
    upstream = await fetch(url, { ...init, signal: c.req.raw.signal, redirect: "manual" });
  } catch (err) {
    return problem(
      502,
      `the entity's media at ${url} cannot be reached: ${(err as Error).message}`,
    );
  }
  const headers = new Headers(MEDIA_HEADERS);
  for (const name of ["content-type", "content-length", "retry-after", ...keep]) {
    const v = upstream.headers.get(name);
    if (v !== null) headers.set(name, v);
  }
  return new Response(upstream.body, { status: upstream.status, headers });
}

/** Mounts the preview routes on `app`; `connections` lists the flows' connections. */
export function previewRoutes(app: Hono, connections: ConnectionsSource): void {
  const find = (c: Context): PreviewSource | Response => {
    const id = c.req.param("id") ?? "";
    const source = previewSourceOf(connections(), id);
    return source ?? problem(
      404,
      `entity "${id}" sends no browser-playable media (${
        BROWSER_PROTOCOLS.join(", ")
      }) on any flow now`,
    );
  };
  const base = "/preview/entities/:id";
  app.get(base, (c) => {
    const s = find(c);
    if (s instanceof Response) return s;
    const path = `/preview/entities/${encodeURIComponent(s.entityId)}`;
    const url = s.protocol === "mjpeg"
      ? `${path}/mjpeg`
      : s.protocol === "hls"
      ? `${path}/hls/${s.address.split("/").pop()}`
      : `${path}/whep`;
    const { address: _, ...shown } = s;
    return c.json({ ...shown, url }, 200, MEDIA_HEADERS);
  });
  app.get(`${base}/mjpeg`, (c) => {
    const s = find(c);
    if (s instanceof Response) return s;
    if (s.protocol !== "mjpeg") return problem(409, `entity "${s.entityId}" sends ${s.protocol}`);
    return relay(c, s.address);
  });
  app.get(`${base}/hls/:file`, (c) => {
    const s = find(c);
    if (s instanceof Response) return s;
    if (s.protocol !== "hls") return problem(409, `entity "${s.entityId}" sends ${s.protocol}`);
    const file = c.req.param("file");
    if (!/^[A-Za-z0-9_-][A-Za-z0-9_.-]*\.(m3u8|ts|m4s|mp4|aac)$/.test(file)) {
      return problem(400, `not an HLS file name: "${file}"`);
    }
    return relay(c, new URL(file, s.address).href);
  });
  app.post(`${base}/whep`, async (c) => {
    const s = find(c);
    if (s instanceof Response) return s;
    if (s.protocol !== "webrtc") return problem(409, `entity "${s.entityId}" sends ${s.protocol}`);
    // The offer comes as JSON ({"sdp": "..."}): the gateway takes only JSON bodies on
    // state-changing requests (its CSRF guard); the sender gets it as application/sdp.
    const body = await c.req.json().catch(() => undefined) as { sdp?: unknown } | undefined;
    if (typeof body?.sdp !== "string" || !body.sdp.startsWith("v=")) {
      return problem(400, 'the body must be {"sdp": "<a complete SDP offer>"}');
    }
    const res = await relay(c, s.address, {
      method: "POST",
      headers: { "content-type": "application/sdp" },
      body: body.sdp,
    }, ["location"]);
    const text = await res.text();
    if (res.status !== 201) {
      return problem(res.status, `the sender refused the offer (${res.status}): ${text.trim()}`);
    }
    // The session, relayed too (for its DELETE).
    const session = (res.headers.get("location") ?? "").split("/").pop() ?? "";
    return c.json(
      {
        sdp: text,
        location: session
          ? `/preview/entities/${encodeURIComponent(s.entityId)}/whep/${
            encodeURIComponent(session)
          }`
          : "",
      },
      201,
      MEDIA_HEADERS,
    );
  });
  app.delete(`${base}/whep/:session`, (c) => {
    const s = find(c);
    if (s instanceof Response) return s;
    if (s.protocol !== "webrtc") return problem(409, `entity "${s.entityId}" sends ${s.protocol}`);
    const session = c.req.param("session");
    if (!/^[A-Za-z0-9_-]+$/.test(session)) return problem(400, "not a WHEP session id");
    return relay(c, new URL(`${s.address.replace(/\/$/, "")}/${session}`).href, {
      method: "DELETE",
    });
  });
}
