// Events: one stream for the whole page, so the list fills while other views are open,
// and the view that filters and shows it, newest first.

import { h, selectField, setText } from "./dom.js";
import { badge, formatTime, short } from "./format.js";
import { RETRY_MS, streamErrorMessage } from "./api.js";
import { ENUM_PREFIX, SEVERITIES, urls } from "./protocol.js";

/** @import { Event as OrchestratorEvent, EventGap } from "./api_types.js" */
/** One item of the list: an event, or a gap marker. */
/**
 * @typedef {{ event: OrchestratorEvent, gap?: undefined }
 *   | { event?: undefined, gap: EventGap }} EventItem
 */

const MAX_EVENTS = 300;

/** The page's event stream: what it sent (newest first), its state, who is told of changes. */
const events = {
  /** @type {EventItem[]} */
  items: [],
  status: "connecting…",
  available: true,
  /** @type {Set<() => void>} */
  listeners: new Set(),
  /** @type {EventSource | undefined} */
  source: undefined,
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  retry: undefined,
  /** The id of the last event seen. @type {string | undefined} */
  lastId: undefined,
  changed() {
    for (const fn of this.listeners) fn();
  },
  /** @param {EventItem} item */
  add(item) {
    this.items.unshift(item);
    if (this.items.length > MAX_EVENTS) this.items.length = MAX_EVENTS;
  },
  /** @param {string} status */
  setStatus(status, available = true) {
    this.status = status;
    this.available = available;
    this.changed();
  },
};

/** Opens (or reopens) the page's event stream, replaying what the orchestrator holds. */
export function startEvents() {
  clearTimeout(events.retry);
  events.source?.close();
  // Replays the history the orchestrator holds (a reconnecting EventSource resumes with
  // Last-Event-ID by itself).
  const es = new EventSource(urls.events(events.lastId ?? "0"));
  events.source = es;
  let pending = false;
  const flush = () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      events.changed();
    });
  };
  let streamError = "";
  es.addEventListener("open", () => {
    streamError = "";
    events.setStatus("live");
  });
  es.addEventListener("message", (e) => {
    /** @type {{ event?: OrchestratorEvent, gap?: EventGap }} an item of WatchEvents */
    let data;
    try {
      data = JSON.parse(e.data);
    } catch {
      return;
    }
    if (data.event) {
      events.lastId = data.event.id;
      events.add({ event: data.event });
    } else if (data.gap) {
      // A gap from 1 means the orchestrator restarted: what was shown is from before.
      if (String(data.gap.fromId) === "1") events.items.length = 0;
      events.add({ gap: data.gap });
    }
    flush();
  });
  es.addEventListener("error", async (e) => {
    if (events.source !== es) return;
    const message = streamErrorMessage(e);
    if (message) {
      streamError = message;
      events.setStatus(streamError);
      return;
    }
    if (es.readyState !== EventSource.CLOSED) {
      events.setStatus(streamError ? `${streamError}; reconnecting…` : "reconnecting…");
      return;
    }
    // The server refused the stream (e.g. 501): say why, and try again later.
    es.close();
    let why = "the event stream could not be opened";
    try {
      const abort = new AbortController();
      const res = await fetch(urls.events(), {
        headers: { accept: "application/x-ndjson" },
        signal: abort.signal,
      });
      if (!res.ok) {
        const text = await res.text();
        try {
          why = JSON.parse(text).message || why;
        } catch {
          why = `HTTP ${res.status}`;
        }
      }
      abort.abort();
    } catch (err) {
      const e = /** @type {Error} */ (err);
      if (e?.name !== "AbortError") why = `cannot reach the orchestrator (${e.message})`;
    }
    events.setStatus(`Events unavailable: ${why}. Retrying every few seconds.`, false);
    events.retry = setTimeout(startEvents, RETRY_MS);
  });
}

/** The Events view (`#/events`): the page's stream, filtered by severity and text. */
export function eventsView() {
  const status = h("p", { class: "muted small", id: "events-status", role: "status" });
  const list = h("ol", {
    class: "events",
    id: "events-list",
    "aria-label": "Events, newest first",
  });
  const empty = h("p", { class: "empty", hidden: true }, "No events yet.");
  const severity = selectField(
    "At least",
    "events-severity",
    SEVERITIES.map((s) => [s, s.toLowerCase()]),
    { value: "DEBUG" },
  );
  severity.el.classList.add("narrow");
  const search = h("input", {
    type: "search",
    id: "events-search",
    placeholder: "type, module or text",
  });
  const filters = h(
    "form",
    {
      class: "inline-form panel",
      "aria-label": "Filter events",
      onsubmit: (/** @type {SubmitEvent} */ e) => e.preventDefault(),
    },
    severity.el,
    h("div", { class: "field" }, h("label", { for: "events-search" }, "Search"), search),
  );
  const ORDER = SEVERITIES;

  function render() {
    setText(
      status,
      `${events.status}${events.available ? ` · showing the latest ${MAX_EVENTS} at most` : ""}`,
    );
    status.classList.toggle("load-error", !events.available);
    const min = ORDER.indexOf(severity.select.value);
    const needle = search.value.trim().toLowerCase();
    const shown = events.items.filter(({ event }) => {
      if (!event) return !needle;
      let sev = short(event.severity, ENUM_PREFIX.severity);
      if (sev === "UNSPECIFIED") sev = "INFO";
      if (ORDER.indexOf(sev) < min) return false;
      if (!needle) return true;
      return [event.type, event.module, event.message, event.entityId, event.flowId]
        .some((x) => String(x ?? "").toLowerCase().includes(needle));
    });
    list.replaceChildren(
      ...shown.map(({ event, gap }) => {
        if (gap) {
          return h(
            "li",
            { class: "gap" },
            `Events ${gap.fromId}–${gap.toId} missing: ${gap.reason}`,
          );
        }
        const target = [event.module, event.entityId, event.flowId].filter(Boolean).join(" · ");
        return h(
          "li",
          { dataset: { id: event.id } },
          h("time", { datetime: event.time, class: "small muted" }, formatTime(event.time)),
          h("span", {}, badge("severity", event.severity)),
          h(
            "span",
            { class: "type" },
            event.type,
            target ? h("div", { class: "muted small" }, target) : null,
          ),
          h("span", { class: "message" }, event.message),
        );
      }),
    );
    empty.hidden = shown.length > 0 || !events.available;
  }
  severity.select.addEventListener("change", render);
  search.addEventListener("input", render);
  events.listeners.add(render);
  render();
  const el = h(
    "section",
    {},
    h("h1", { tabindex: "-1" }, "Events"),
    filters,
    status,
    h("div", { class: "panel" }, list, empty),
  );
  return { el, title: "Events", unmount: () => events.listeners.delete(render) };
}
