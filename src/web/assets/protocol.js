// What the dashboard knows of the API, in one place: the URL of every gateway route it
// calls (the routes come from the protos' `google.api.http` annotations) and the enum
// names it shows or sends (proto3 JSON writes enums as their full names).

/** Encodes one URL path segment. */
const enc = encodeURIComponent;

/** The gateway routes the dashboard calls. */
export const urls = {
  status: () => "/v1/status",
  session: () => "/v1/session",
  modules: () => "/v1/modules",
  /** @param {string} name */
  module: (name) => `/v1/modules/${enc(name)}`,
  /** @param {string} name @param {string} verb start, stop or restart */
  moduleAction: (name, verb) => `/v1/modules/${enc(name)}:${verb}`,
  /** @param {string} name */
  moduleConfig: (name) => `/v1/modules/${enc(name)}/config`,
  /** @param {string} name */
  moduleConfigRevisions: (name) => `/v1/modules/${enc(name)}/config/revisions`,
  /** @param {string} name @param {number} tail lines of history before following */
  moduleLogs: (name, tail) => `/v1/modules/${enc(name)}/logs?tail=${tail}&follow=true`,
  /** @param {URLSearchParams} [query] filters */
  entities: (query) => `/v1/entities${query?.size ? `?${query}` : ""}`,
  /** @param {string} id @param {boolean} [force] */
  entity: (id, force) => `/v1/entities/${enc(id)}${force ? "?force=true" : ""}`,
  flows: () => "/v1/flows",
  /** @param {string} id */
  flow: (id) => `/v1/flows/${enc(id)}`,
  /** @param {string} id @param {string} verb start, stop or adjustQuality */
  flowAction: (id, verb) => `/v1/flows/${enc(id)}:${verb}`,
  findPaths: () => "/v1/paths:find",
  /** @param {string} [afterId] the last event id seen */
  events: (afterId) => afterId === undefined ? "/v1/events" : `/v1/events?afterId=${afterId}`,
};

/** The prefix of each enum's value names, e.g. "MODULE_STATE_" of MODULE_STATE_READY. */
export const ENUM_PREFIX = {
  module: "MODULE_STATE_",
  health: "HEALTH_STATE_",
  entity: "ENTITY_STATE_",
  entityKind: "ENTITY_KIND_",
  flow: "FLOW_STATE_",
  severity: "SEVERITY_",
  qualityPreset: "QUALITY_PRESET_",
};

/** Entity kinds (without ENTITY_KIND_), in the order the filters show them. */
export const ENTITY_KINDS = ["SOURCE", "SINK", "CONVERTER", "ENDPOINT"];

/** Entity states (without ENTITY_STATE_), in the order the filters show them. */
export const ENTITY_STATES = ["CREATING", "READY", "ACTIVE", "DEGRADED", "FAILED", "OFFLINE"];

/** Quality presets (without QUALITY_PRESET_); UNSPECIFIED is the module's default. */
export const QUALITY_PRESETS = ["UNSPECIFIED", "LOW", "MEDIUM", "HIGH", "AUTO"];

/** Event severities (without SEVERITY_), least serious first. */
export const SEVERITIES = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"];
