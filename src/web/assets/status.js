// The header's system status: readiness, version, uptime and counts, polled.

import { h, setText } from "./dom.js";
import { formatDuration, plural } from "./format.js";
import { api, ApiError, poll, STATUS_REFRESH_MS } from "./api.js";
import { connection } from "./connection_ui.js";
import { urls } from "./protocol.js";

/** Fills the header's status and keeps it current for the life of the page. */
export function startStatus() {
  const el = /** @type {HTMLElement} */ (document.getElementById("status"));
  const ready = h("span", { class: "badge", id: "ready-badge" });
  const version = h("span", { id: "version" });
  const uptime = h("span", { id: "uptime" });
  const counts = h("span", { id: "counts" });
  el.replaceChildren(ready, version, uptime, counts);
  setText(ready, "connecting…");
  ready.dataset.tone = "idle";
  // The uptime ticks between refreshes: the server's value plus the time since it came.
  /** @type {{ seconds: number, at: number } | undefined} */
  let since;
  setInterval(() => {
    if (since && !connection.down) {
      const seconds = since.seconds + (performance.now() - since.at) / 1000;
      setText(uptime, `up ${formatDuration(`${seconds}s`)}`);
    }
  }, 1000);
  const offline = (/** @type {string} */ message) => {
    ready.dataset.tone = "error";
    setText(ready, "Offline");
    ready.title = message;
  };
  connection.lostListeners.add(offline);
  const p = poll(async () => {
    try {
      const s = await api("GET", urls.status());
      ready.dataset.tone = s.ready ? "ok" : "warn";
      setText(ready, s.ready ? "Ready" : "Not ready");
      ready.title = s.ready
        ? "Every module is READY or DEGRADED (or stopped by hand)"
        : "Some modules are not READY";
      setText(version, `v${s.version}`);
      version.title = s.runtime ?? "";
      since = { seconds: parseFloat(s.uptime ?? "0") || 0, at: performance.now() };
      setText(uptime, `up ${formatDuration(s.uptime)}`);
      const entities = `${s.entityCount ?? 0} ${s.entityCount === 1 ? "entity" : "entities"}`;
      setText(
        counts,
        `${plural(s.moduleCount ?? 0, "module")} · ${entities} · ${
          plural(s.flowCount ?? 0, "flow")
        }`,
      );
    } catch (err) {
      const status = err instanceof ApiError ? err.status : undefined;
      const message = err instanceof Error ? err.message : String(err);
      if (status === 0) offline(message);
      else {
        ready.dataset.tone = "error";
        setText(ready, "Status unavailable");
        ready.title = message;
      }
    }
  }, STATUS_REFRESH_MS);
  connection.listeners.add(() => p.now());
}
