/**
 * The web-screen module's HTTP server (Deno.serve): the screen pages and what they talk
 * to.
 *
 *   GET  /                      the list of screens
 *   GET  /screens/<id>          the screen's page (404 page naming the real ones when
 *                               there is no such screen)
 *   GET  /screens/<id>/source   JSON: {id, name, source: {protocol, url, flow_id,
 *                               connection_id, started_at} | null, reload, accept}
 *   POST /screens/<id>/report   the page's figures (JSON, at most 64 KiB)
 *   GET  /screens/<id>/report   the last figures, JSON ({} before any)
 *   GET  /assets/<file>         the page's script and style
 */
import { screenListPage, screenPage, unknownScreenPage } from "./screen_pages.ts";
import type { ScreenReport, ScreenTable } from "./screen_table.ts";

const ASSETS: Record<string, string> = {
  "screen.js": "text/javascript; charset=utf-8",
  "players.js": "text/javascript; charset=utf-8",
  "pixel_clock.js": "text/javascript; charset=utf-8",
  "unknown.js": "text/javascript; charset=utf-8",
  "screen.css": "text/css; charset=utf-8",
};
const MAX_REPORT_BYTES = 64 * 1024;
const NO_STORE = { "Cache-Control": "no-store" };

/** The page assets, read once. */
async function loadAssets(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const name of Object.keys(ASSETS)) {
    out.set(name, await Deno.readTextFile(new URL(`./assets/${name}`, import.meta.url)));
  }
  return out;
}

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", ...NO_STORE },
  });
}

function html(body: string, status = 200): Response {
  return new Response(body, {
    status,
    headers: { "Content-Type": "text/html; charset=utf-8", ...NO_STORE },
  });
}

/** Keeps numbers, strings (cut at 500 characters), booleans, null, lists of numbers
 * (at most 200: the latencies) and one level of object (the capabilities); drops the
 * rest. */
export function sanitizeReport(raw: unknown): ScreenReport | undefined {
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) return undefined;
  const out: ScreenReport = {};
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof value === "number" || typeof value === "boolean" || value === null) {
      out[key] = value;
    } else if (typeof value === "string") {
      out[key] = value.slice(0, 500);
    } else if (Array.isArray(value)) {
      const numbers = value.filter((v) => typeof v === "number" && Number.isFinite(v));
      if (numbers.length === value.length) out[key] = numbers.slice(-200) as number[];
    } else if (value && typeof value === "object") {
      out[key] = JSON.parse(JSON.stringify(value)) as Record<string, unknown>;
    }
  }
  return out;
}

/** What the server calls back. */
export interface ScreenServerHooks {
  /** A page reported (after it was stored). */
  onReport?(screenId: string, report: ScreenReport): void;
}

/** Serves the screens of `table`. */
export function screenHandler(
  table: ScreenTable,
  assets: Map<string, string>,
  hooks: ScreenServerHooks = {},
): (req: Request) => Promise<Response> {
  return async (req) => {
    const url = new URL(req.url);
    const parts = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
    const screens = [...table.screens.values()];
    if (req.method === "GET" && parts.length === 0) return html(screenListPage(screens));
    if (req.method === "GET" && parts[0] === "assets" && parts.length === 2) {
      const type = ASSETS[parts[1]];
      const body = assets.get(parts[1]);
      if (!type || body === undefined) return new Response("no such asset\n", { status: 404 });
      return new Response(body, { headers: { "Content-Type": type, ...NO_STORE } });
    }
    if (parts[0] !== "screens" || parts.length < 2 || parts.length > 3) {
      return new Response(`nothing at ${url.pathname}; screens are at /screens/<id>\n`, {
        status: 404,
      });
    }
    const id = parts[1];
    const screen = table.get(id);
    const what = parts[2] ?? "";
    if (!screen) {
      if (what === "") return html(unknownScreenPage(id, screens), 404);
      return json({ error: `no screen "${id}" on this module` }, 404);
    }
    if (req.method === "GET" && what === "") return html(screenPage(screen));
    if (req.method === "GET" && what === "source") {
      return json(table.answer(screen));
    }
    if (what === "report" && req.method === "GET") {
      return json(table.reports.get(id)?.report ?? {});
    }
    if (what === "report" && req.method === "POST") {
      const text = await req.text();
      if (text.length > MAX_REPORT_BYTES) return json({ error: "report over 64 KiB" }, 413);
      let report: ScreenReport | undefined;
      try {
        report = sanitizeReport(JSON.parse(text));
      } catch {
        report = undefined;
      }
      if (!report) return json({ error: "a report is a JSON object" }, 400);
      table.report(id, report);
      hooks.onReport?.(id, report);
      return new Response(null, { status: 204 });
    }
    return json({ error: `${req.method} ${url.pathname} is not served` }, 405);
  };
}

/** A running screen server. */
export interface ScreenServer {
  port: number;
  shutdown(): Promise<void>;
}

/**
 * Listens on `hostname:port`. When `port` is taken and `fallback` is true, listens on
 * another port instead (and says so on stderr): the default port is a convenience, a
 * port the operator chose is not. A port chosen that way (or for port 0) is written to
 * `remember` and tried first at the next start, so the pages' URLs, TV bookmarks
 * included, survive a restart of the module.
 */
export async function startScreenServer(
  table: ScreenTable,
  options: {
    hostname: string;
    port: number;
    fallback: boolean;
    remember?: string;
    hooks?: ScreenServerHooks;
  },
): Promise<ScreenServer> {
  const handler = screenHandler(table, await loadAssets(), options.hooks);
  const serve = (port: number) =>
    Deno.serve({ hostname: options.hostname, port, onListen: () => {} }, handler);
  const remembered = options.remember
    ? Number(await Deno.readTextFile(options.remember).catch(() => "")) || 0
    : 0;
  // The port asked for, else (port 0, or a default that is taken) the one of the last
  // start, else any.
  const candidates = options.port === 0 ? [] : [options.port];
  if (options.port === 0 || options.fallback) {
    if (remembered && remembered !== options.port) candidates.push(remembered);
    candidates.push(0);
  }
  let server: Deno.HttpServer<Deno.NetAddr> | undefined;
  for (const [i, port] of candidates.entries()) {
    try {
      server = serve(port);
      break;
    } catch (err) {
      if (!(err instanceof Deno.errors.AddrInUse) || i === candidates.length - 1) throw err;
    }
  }
  const port = server!.addr.port;
  if (port !== options.port) {
    if (options.port !== 0) {
      console.error(`web-screen: port ${options.port} is in use; serving screens on ${port}`);
    }
    if (options.remember) await Deno.writeTextFile(options.remember, `${port}\n`).catch(() => {});
  }
  return { port, shutdown: () => server!.shutdown() };
}
