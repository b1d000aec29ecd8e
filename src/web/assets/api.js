// The dashboard's link to the JSON gateway on its own origin: `api()` with the server's
// error messages, the banner shown while the orchestrator cannot be reached, the access
// token form shown when the API answers 401, and polling.

import { h, setText } from "./dom.js";

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
export function streamErrorMessage(e) {
  if (typeof e.data !== "string" || !e.data) return undefined;
  let message = e.data;
  try {
    message = JSON.parse(e.data).message ?? message;
  } catch {
    // Plain text.
  }
  return `stream error: ${message}`;
}

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
  if (res.status === 401) signIn.required();
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
 */
export async function listAll(path, key) {
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

/**
 * The "Enter the access token" form, shown under the header when the API answers 401 (the
 * orchestrator listens beyond loopback and requires its bearer token). Signing in posts the
 * token to `POST /v1/session`, which sets an HttpOnly session cookie (so EventSource streams
 * work too), then reloads the page.
 */
export const signIn = {
  form: undefined,
  required() {
    if (this.form) {
      this.form.hidden = false;
      return;
    }
    const input = h("input", {
      id: "auth-token",
      type: "password",
      name: "token",
      autocomplete: "current-password",
      required: true,
      spellcheck: "false",
    });
    const error = h("p", { class: "auth-error", id: "auth-error", role: "alert" });
    const submit = h("button", { type: "submit", class: "btn primary" }, "Sign in");
    this.form = h(
      "form",
      { class: "auth", id: "auth", "aria-labelledby": "auth-title" },
      h("h2", { id: "auth-title" }, "Enter the access token"),
      h(
        "p",
        { class: "muted" },
        "This orchestrator requires its access token: the file auth-token in its data directory.",
      ),
      h(
        "div",
        { class: "auth-row" },
        h("label", { for: "auth-token" }, "Access token"),
        input,
        submit,
      ),
      error,
    );
    this.form.addEventListener("submit", async (e) => {
      e.preventDefault();
      submit.disabled = true;
      setText(error, "");
      try {
        const res = await fetch("/v1/session", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ token: input.value.trim() }),
          cache: "no-store",
        });
        if (res.ok) {
          location.reload();
          return;
        }
        const json = await res.json().catch(() => ({}));
        setText(
          error,
          res.status === 401
            ? "That token is wrong."
            : json.message ?? `HTTP ${res.status} ${res.statusText}`,
        );
      } catch (err) {
        setText(error, `cannot reach the orchestrator (${err.message})`);
      } finally {
        submit.disabled = false;
      }
      input.focus();
    });
    document.getElementById("conn").after(this.form);
    input.focus();
  },
};
