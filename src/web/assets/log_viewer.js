// The live log tail of a module, followed through EventSource (SSE).

import { h, setText, uniqueId } from "./dom.js";
import { RETRY_MS, streamErrorMessage } from "./api.js";
import { urls } from "./protocol.js";

const MAX_LOG_LINES = 500;

/** The label of each level of a log entry (`entry.level`, a Severity name). @type {Record<string, string>} */
const LEVELS = {
  SEVERITY_DEBUG: "DEBUG",
  SEVERITY_INFO: "INFO",
  SEVERITY_WARNING: "WARN",
  SEVERITY_ERROR: "ERROR",
  SEVERITY_CRITICAL: "CRIT",
};

/**
 * One line of a module's output as the gateway sends it (LogEntry in proto3 JSON).
 * @typedef {{ time?: string, level?: string, stream?: string, pid?: number, line?: string }} LogEntry
 */

/** Live log tail of a module through EventSource (SSE), with a Follow switch. @param {string} name */
export function logViewer(name) {
  const list = h("ol", {
    class: "log",
    id: "module-log",
    tabindex: "0",
    "aria-label": `Output of ${name}`,
  });
  const status = h("span", { class: "muted small", id: "log-status" });
  const followId = uniqueId("follow");
  const follow = h("input", { type: "checkbox", id: followId, checked: true });
  /** @type {EventSource | undefined} */
  let source;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let retry;

  /** @param {string} text */
  function setStatus(text) {
    setText(status, text);
  }
  /** @param {LogEntry} entry */
  function add(entry) {
    const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    // Painted by the line's level (the module log convention), never by its stream: SDK
    // modules write their normal output to standard error.
    const level = LEVELS[entry.level ?? ""] ?? LEVELS.SEVERITY_INFO;
    const stderr = entry.stream === "LOG_STREAM_STDERR";
    list.append(
      h(
        "li",
        { class: `lvl-${level.toLowerCase()}` },
        h("span", { class: "time" }, entry.time ? new Date(entry.time).toLocaleTimeString() : ""),
        h("span", { class: "level" }, level),
        h("span", { class: "stream" }, stderr ? "err" : "out"),
        h("span", { class: "pid" }, `[${entry.pid ?? ""}]`),
        entry.line ?? "",
      ),
    );
    while (list.childElementCount > MAX_LOG_LINES) list.firstElementChild?.remove();
    if (nearBottom) list.scrollTop = list.scrollHeight;
  }
  function close() {
    clearTimeout(retry);
    source?.close();
    source = undefined;
  }
  function open() {
    close();
    setStatus("connecting…");
    const es = new EventSource(urls.moduleLogs(name, 200));
    source = es;
    let streamError = "";
    es.addEventListener("open", () => {
      streamError = "";
      // Every connection starts with the tail again: replace what was shown.
      list.replaceChildren();
      setStatus("live");
    });
    es.addEventListener("message", (e) => {
      try {
        const data = JSON.parse(e.data);
        if (data.entry) add(data.entry);
      } catch {
        // Not JSON: ignore.
      }
    });
    es.addEventListener("error", (e) => {
      if (source !== es) return;
      const message = streamErrorMessage(e);
      if (message) {
        streamError = message;
        setStatus(streamError);
        return;
      }
      if (es.readyState === EventSource.CLOSED) {
        setStatus("log stream unavailable; retrying…");
        retry = setTimeout(open, RETRY_MS);
      } else setStatus(streamError ? `${streamError}; reconnecting…` : "reconnecting…");
    });
  }
  follow.addEventListener("change", () => {
    if (follow.checked) open();
    else {
      close();
      setStatus("paused");
    }
  });
  open();
  const el = h(
    "div",
    {},
    h(
      "div",
      { class: "log-bar" },
      h("label", { class: "check", for: followId }, follow, "Follow live output"),
      status,
    ),
    list,
  );
  return { el, close };
}
