// The dashboard's fetch client for the JSON gateway on its own origin: `api()` with the
// server's error messages, polling, and the hooks that tell the page when the orchestrator
// cannot be reached, answers again, or asks for the access token (connection_ui.js shows
// those). No DOM here.

/** How often the lists (modules, entities, flows, a module) are polled. */
export const LIST_REFRESH_MS = 2000;

/** How often the header's status is polled. */
export const STATUS_REFRESH_MS = 5000;

/** How long to wait before reopening a stream the server refused. */
export const RETRY_MS = 5000;

/** Encodes one URL path segment. */
export const enc = encodeURIComponent;

/**
 * The message of an error event the server sent on an event stream ("stream error: ..."),
 * or undefined for a dropped connection (an error event without data).
 */
/** @param {MessageEvent | Event} e @returns {string | undefined} */
export function streamErrorMessage(e) {
  if (!("data" in e)) return undefined;
  if (typeof e.data !== "string" || !e.data) return undefined;
  let message = e.data;
  try {
    message = JSON.parse(e.data).message ?? message;
  } catch {
    // Plain text.
  }
  return `stream error: ${message}`;
}

/** An API call that failed: the server's message, the HTTP status (0: unreachable), its code. */
export class ApiError extends Error {
  /** @param {string} message @param {number} status @param {string} [code] */
  constructor(message, status, code) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

/**
 * What `api()` tells the page about the connection; connection_ui.js sets them. Each does
 * nothing until then.
 */
export const apiHooks = {
  /** A request could not reach the orchestrator. */
  lost: (/** @type {unknown} */ _err) => {},
  /** A request reached it. */
  reached: () => {},
  /** It answered 401: the access token is needed. */
  unauthorized: () => {},
};

/** Calls the JSON gateway; throws ApiError with the server's message on failure. */
/**
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @returns {Promise<any>} the answer's JSON (its shape is the route's response message)
 */
export async function api(method, path, body) {
  /** @type {Record<string, string>} */
  const headers = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch (err) {
    apiHooks.lost(err);
    throw new ApiError(`cannot reach the orchestrator (${/** @type {Error} */ (err).message})`, 0);
  }
  apiHooks.reached();
  if (res.status === 401) apiHooks.unauthorized();
  const text = await res.text().catch(() => "");
  let json;
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const message = json && typeof json.message === "string" && json.message
      ? json.message
      : `HTTP ${res.status} ${res.statusText}${text ? `: ${text.slice(0, 300)}` : ""}`;
    throw new ApiError(message, res.status, json?.code);
  }
  if (json === undefined) throw new ApiError(`${path} did not answer JSON`, res.status);
  return json;
}

/** Pages that `listAll` reads at most, so a runaway list cannot keep the page busy. */
const MAX_PAGES = 50;

/**
 * GETs every page of a list RPC (`pageSize`/`pageToken`, AIP-158) and returns the items
 * of `key` from all of them; `path` may carry filters in its query already.
 * @param {string} path
 * @param {string} key
 * @returns {Promise<any[]>}
 */
export async function listAll(path, key) {
  /** @type {any[]} */
  const items = [];
  let token = "";
  for (let i = 0; i < MAX_PAGES; i++) {
    const query = new URLSearchParams({ pageSize: "1000" });
    if (token) query.set("pageToken", token);
    const page = await api("GET", `${path}${path.includes("?") ? "&" : "?"}${query}`);
    items.push(...(page[key] ?? []));
    token = page.nextPageToken ?? "";
    if (!token) break;
  }
  return items;
}

/**
 * Runs `fn` now and then every `ms` after it finishes, until `stop()`. `now()` runs it
 * again at once (after a run in progress). `fn` shows its own errors.
 */
/**
 * @param {() => unknown} fn
 * @param {number} ms
 * @returns {{ now: () => void, stop: () => void }}
 */
export function poll(fn, ms) {
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  let stopped = false;
  let running = false;
  let again = false;
  async function run() {
    clearTimeout(timer);
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      await fn();
    } catch (err) {
      console.warn("refresh failed", err);
    } finally {
      running = false;
    }
    if (stopped) return;
    if (again) {
      again = false;
      run();
      return;
    }
    timer = setTimeout(run, ms);
  }
  run();
  return {
    now: run,
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
