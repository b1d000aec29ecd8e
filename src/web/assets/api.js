// The dashboard's link to the JSON gateway on its own origin: `api()` with the server's
// error messages, the banner shown while the orchestrator cannot be reached, and polling.

import { setText } from "./dom.js";

/** How often the lists (modules, entities, flows, a module) are polled. */
export const LIST_REFRESH_MS = 2000;

/** How often the header's status is polled. */
export const STATUS_REFRESH_MS = 5000;

/** How long to wait before reopening a stream the server refused. */
export const RETRY_MS = 5000;

/** Encodes one URL path segment. */
export const enc = encodeURIComponent;

class ApiError extends Error {
  constructor(message, status, code) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

/** Calls the JSON gateway; throws ApiError with the server's message on failure. */
export async function api(method, path, body) {
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
    connection.lost(err);
    throw new ApiError(`cannot reach the orchestrator (${err.message})`, 0);
  }
  connection.ok();
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

/** The banner saying the orchestrator cannot be reached; hidden again on the next answer. */
export const connection = {
  down: false,
  /** Told when the orchestrator answers again. */
  listeners: new Set(),
  /** Told (with the error message) when a request could not reach it. */
  lostListeners: new Set(),
  lost(err) {
    const banner = document.getElementById("conn");
    banner.hidden = false;
    setText(
      banner,
      `Cannot reach the orchestrator (${err?.message ?? err}). Retrying every few seconds…`,
    );
    this.down = true;
    for (const fn of this.lostListeners) fn(String(err?.message ?? err));
  },
  ok() {
    if (!this.down) return;
    this.down = false;
    document.getElementById("conn").hidden = true;
    for (const fn of this.listeners) fn();
  },
};

/**
 * Runs `fn` now and then every `ms` after it finishes, until `stop()`. `now()` runs it
 * again at once (after a run in progress). `fn` shows its own errors.
 */
export function poll(fn, ms) {
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
