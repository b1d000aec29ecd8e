// Formatting for the dashboard: enum values as words and coloured badges, times,
// durations, media formats and plurals.

import { h, setText } from "./dom.js";
import { ENUM_PREFIX } from "./protocol.js";

/** "MODULE_STATE_WAITING_FOR_CONFIG" -> "WAITING_FOR_CONFIG". */
/** @param {unknown} value @param {string} [prefix] */
export function short(value, prefix) {
  const s = String(value ?? "");
  if (prefix && s.startsWith(prefix)) return s.slice(prefix.length);
  return s;
}

/** An enum value in words: "WAITING_FOR_CONFIG" -> "WAITING FOR CONFIG". */
/** @param {unknown} value */
export function words(value) {
  return short(value).replaceAll("_", " ");
}

/** The badge tone of each enum value, by enum. @type {Record<string, Record<string, string>>} */
const TONES = {
  module: {
    READY: "ok",
    DEGRADED: "warn",
    WAITING_FOR_CONFIG: "warn",
    BACKOFF: "warn",
    FAILED: "error",
    STARTING: "busy",
    PENDING: "busy",
    STOPPING: "busy",
    STOPPED: "idle",
  },
  health: {
    READY: "ok",
    DEGRADED: "warn",
    WAITING_FOR_CONFIG: "warn",
    UNHEALTHY: "error",
    STARTING: "busy",
  },
  entity: {
    READY: "ok",
    ACTIVE: "info",
    CREATING: "busy",
    DEGRADED: "warn",
    FAILED: "error",
    OFFLINE: "idle",
  },
  flow: {
    ACTIVE: "ok",
    CREATING: "busy",
    STARTING: "busy",
    DEGRADED: "warn",
    STOPPED: "idle",
    FAILED: "error",
  },
  severity: {
    DEBUG: "idle",
    INFO: "info",
    UNSPECIFIED: "info",
    WARNING: "warn",
    ERROR: "error",
    CRITICAL: "error",
  },
};

/** A coloured badge for an enum value; the text says it too (colour is never alone). */
/** @param {keyof typeof ENUM_PREFIX} kind @param {unknown} value */
export function badge(kind, value) {
  const el = h("span", { class: "badge" });
  updateBadge(el, kind, value);
  return el;
}

/** Updates a badge made by badge() to show `value`. */
/** @param {HTMLElement} el @param {keyof typeof ENUM_PREFIX} kind @param {unknown} value */
export function updateBadge(el, kind, value) {
  const state = short(value, ENUM_PREFIX[kind]) || "UNSPECIFIED";
  const tone = TONES[kind]?.[state] ?? "idle";
  if (el.dataset.state !== state) el.dataset.state = state;
  if (el.dataset.tone !== tone) el.dataset.tone = tone;
  setText(el, state.replaceAll("_", " "));
}

/** A timestamp as local time (date too when not today); "—" when missing. */
/** @param {string | undefined} value */
export function formatTime(value) {
  if (!value) return "—";
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  const today = new Date().toDateString() === date.toDateString();
  return today ? date.toLocaleTimeString() : date.toLocaleString();
}

/** A proto3 JSON Duration ("123.4s") in words: "2 h 3 min". */
/** @param {string | undefined} value */
export function formatDuration(value) {
  const seconds = Math.floor(parseFloat(String(value ?? "0")));
  if (!Number.isFinite(seconds) || seconds < 0) return String(value ?? "");
  const d = Math.floor(seconds / 86400);
  const hh = Math.floor((seconds % 86400) / 3600);
  const mm = Math.floor((seconds % 3600) / 60);
  const ss = seconds % 60;
  if (d > 0) return `${d} d ${hh} h`;
  if (hh > 0) return `${hh} h ${mm} min`;
  if (mm > 0) return `${mm} min ${ss} s`;
  return `${ss} s`;
}

/** A media format as "audio/rtp/opus". */
/** @param {{ mediaType?: string, protocol?: string, codec?: string } | undefined} format */
export function formatMedia(format) {
  if (!format) return "";
  const type = short(format.mediaType, "MEDIA_TYPE_").toLowerCase();
  return [type, format.protocol, format.codec].filter(Boolean).join("/");
}

/** "1 module", "2 modules". */
/** @param {number | string} n @param {string} word */
export function plural(n, word) {
  return `${n} ${word}${Number(n) === 1 ? "" : "s"}`;
}
