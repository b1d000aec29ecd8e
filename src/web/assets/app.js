// Call Assistant dashboard: plain JavaScript, no build step, no framework. It talks only to
// the JSON gateway on its own origin (`/v1/...`): polls the lists every few seconds and
// follows logs and events with EventSource, so it recovers by itself when the
// orchestrator restarts. Every API error is shown to the user with the server's message.

const LIST_REFRESH_MS = 2000;
const STATUS_REFRESH_MS = 5000;
const RETRY_MS = 5000;
const MAX_LOG_LINES = 500;
const MAX_EVENTS = 300;

// ---------------------------------------------------------------------------------------
// DOM helpers

/**
 * Creates an element. `props`: `class`, `text`, `dataset`, `on<event>` handlers, the
 * properties `value`, `checked`, `disabled`, `hidden`, `selected`, and other attributes.
 */
function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (["value", "checked", "disabled", "hidden", "selected"].includes(key)) {
      el[key] = value;
    } else if (value !== false) el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Sets text only when it changed (keeps selections and avoids layout work). */
function setText(el, text) {
  const value = String(text ?? "");
  if (el.textContent !== value) el.textContent = value;
}

/** Renders `data` into `el` with `render` only when it differs from the last rendering. */
function renderIfChanged(el, data, render) {
  const json = JSON.stringify(data ?? null);
  if (el.dataset.rendered === json) return;
  el.dataset.rendered = json;
  el.replaceChildren(...[render(data)].flat().filter(Boolean));
}

/**
 * Updates `tbody` to one row per item, in order, reusing rows by key so buttons keep
 * their focus and state: `create(item)` builds a row, `update(row, item)` refreshes it.
 */
function keyedRows(tbody, items, key, create, update) {
  const rows = new Map([...tbody.children].map((tr) => [tr.dataset.key, tr]));
  let previous = null;
  for (const item of items) {
    const k = key(item);
    let tr = rows.get(k);
    if (tr) rows.delete(k);
    else {
      tr = create(item);
      tr.dataset.key = k;
    }
    update(tr, item);
    const expected = previous ? previous.nextSibling : tbody.firstChild;
    if (tr !== expected) tbody.insertBefore(tr, expected);
    previous = tr;
  }
  for (const tr of rows.values()) tr.remove();
}

/** A table cell with the label phones show beside it. */
function td(label, cls, ...children) {
  return h("td", { "data-label": label, class: cls }, h("div", { class: "cell" }, ...children));
}

/** The content element of a row's cell made by td(). */
function cell(tr, col) {
  return tr.querySelector(`.${col} > .cell`);
}

function table(caption, headings, tbody, cls) {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: `data ${cls ?? ""}` },
      h("caption", { class: "sr-only" }, caption),
      h("thead", {}, h("tr", {}, headings.map((t) => h("th", { scope: "col" }, t)))),
      tbody,
    ),
  );
}

let uniqueCounter = 0;
function uniqueId(prefix) {
  uniqueCounter += 1;
  return `${prefix}-${uniqueCounter}`;
}

// ---------------------------------------------------------------------------------------
// Formatting

/** "MODULE_STATE_WAITING_FOR_CONFIG" -> "WAITING_FOR_CONFIG". */
function short(value, prefix) {
  const s = String(value ?? "");
  if (prefix && s.startsWith(prefix)) return s.slice(prefix.length);
  return s;
}

function words(value) {
  return short(value).replaceAll("_", " ");
}

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

const PREFIXES = {
  module: "MODULE_STATE_",
  health: "HEALTH_STATE_",
  entity: "ENTITY_STATE_",
  flow: "FLOW_STATE_",
  severity: "SEVERITY_",
};

/** A coloured badge for an enum value; the text says it too (colour is never alone). */
function badge(kind, value) {
  const el = h("span", { class: "badge" });
  updateBadge(el, kind, value);
  return el;
}

function updateBadge(el, kind, value) {
  const state = short(value, PREFIXES[kind]) || "UNSPECIFIED";
  const tone = TONES[kind]?.[state] ?? "idle";
  if (el.dataset.state !== state) el.dataset.state = state;
  if (el.dataset.tone !== tone) el.dataset.tone = tone;
  setText(el, state.replaceAll("_", " "));
}

function formatTime(value) {
  if (!value) return "—";
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  const today = new Date().toDateString() === date.toDateString();
  return today ? date.toLocaleTimeString() : date.toLocaleString();
}

/** A proto3 JSON Duration ("123.4s") in words: "2 h 3 min". */
function formatDuration(value) {
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

function formatMedia(format) {
  if (!format) return "";
  const type = short(format.mediaType, "MEDIA_TYPE_").toLowerCase();
  return [type, format.protocol, format.codec].filter(Boolean).join("/");
}

function plural(n, word) {
  return `${n} ${word}${Number(n) === 1 ? "" : "s"}`;
}

const enc = encodeURIComponent;

// ---------------------------------------------------------------------------------------
// API

class ApiError extends Error {
  constructor(message, status, code) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

/** Calls the JSON gateway; throws ApiError with the server's message on failure. */
async function api(method, path, body) {
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
const connection = {
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
function poll(fn, ms) {
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

// ---------------------------------------------------------------------------------------
// Messages and confirmation

/** A dismissable message area: `show(text, tone)` with tone ok, error, busy or info. */
function noticeBox() {
  const text = h("span", { class: "notice-text" });
  const close = h("button", {
    type: "button",
    class: "close",
    "aria-label": "Dismiss message",
    onclick: () => {
      el.hidden = true;
    },
  }, "×");
  const el = h("div", { class: "notice", role: "status", hidden: true }, text, close);
  return {
    el,
    show(message, tone = "info") {
      el.dataset.tone = tone;
      el.setAttribute("role", tone === "error" ? "alert" : "status");
      setText(text, message);
      el.hidden = false;
    },
    hide() {
      el.hidden = true;
    },
  };
}

/** Shows why a list could not be loaded; unreachable orchestrator is the banner's job. */
function showLoadError(el, container, what, err) {
  container?.classList.toggle("stale", Boolean(err));
  if (!err || err.status === 0) {
    el.hidden = true;
    return;
  }
  setText(el, `Could not load ${what}: ${err.message}`);
  el.hidden = false;
}

/**
 * Asks for confirmation in a modal dialog. Resolves to {confirmed, checked}; `option` adds
 * a checkbox with that label.
 */
function confirmDialog({ title, message, confirmLabel = "OK", option }) {
  const dialog = document.getElementById("confirm");
  setText(document.getElementById("confirm-title"), title);
  setText(document.getElementById("confirm-message"), message);
  setText(document.getElementById("confirm-ok"), confirmLabel);
  const optionLabel = document.getElementById("confirm-option");
  const check = document.getElementById("confirm-check");
  optionLabel.hidden = !option;
  check.checked = false;
  setText(document.getElementById("confirm-check-label"), option ?? "");
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      resolve({ confirmed: dialog.returnValue === "ok", checked: check.checked });
    }, { once: true });
    dialog.showModal();
  });
}

// ---------------------------------------------------------------------------------------
// JSON Schema forms

function schemaType(prop) {
  const t = prop?.type;
  if (Array.isArray(t)) return t.find((x) => x !== "null") ?? "string";
  if (typeof t === "string") return t;
  if (Array.isArray(prop?.enum)) return "enum";
  return "json";
}

function isSecret(prop) {
  return prop?.writeOnly === true || prop?.format === "password";
}

function isEmptySchema(schema) {
  return !schema || typeof schema !== "object" || Object.keys(schema).length === 0;
}

/**
 * Builds form fields from a JSON Schema object: string, number, integer, boolean and enum
 * properties get inputs (secrets a password input), anything else a JSON text area.
 * Returns {el, read()} where read() gives {value, errors}. Validation is the server's:
 * the browser's own is off (the form has `novalidate`) so its message is the one shown.
 */
function schemaFields(schema, values, { idPrefix, useDefaults }) {
  const properties = schema?.properties && typeof schema.properties === "object"
    ? schema.properties
    : undefined;
  const required = new Set(Array.isArray(schema?.required) ? schema.required : []);
  const container = h("div", { class: "schema-fields" });
  const readers = [];
  const known = new Set(Object.keys(properties ?? {}));

  if (!properties) {
    // A schema without properties: edit the whole object as JSON.
    const id = `${idPrefix}-json`;
    const area = h("textarea", {
      id,
      name: "json",
      spellcheck: "false",
      value: JSON.stringify(values ?? {}, null, 2),
    });
    container.append(
      h("div", { class: "field" }, h("label", { for: id }, "Configuration (JSON)"), area),
    );
    return {
      el: container,
      read() {
        try {
          const parsed = JSON.parse(area.value || "{}");
          if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
            return { value: {}, errors: ["configuration: must be a JSON object"] };
          }
          return { value: parsed, errors: [] };
        } catch (err) {
          return { value: {}, errors: [`configuration: invalid JSON (${err.message})`] };
        }
      },
    };
  }

  for (const [key, prop] of Object.entries(properties)) {
    const id = `${idPrefix}-${key}`;
    const type = schemaType(prop);
    const has = values && Object.hasOwn(values, key);
    const initial = has ? values[key] : (useDefaults ? prop?.default : undefined);
    const isRequired = required.has(key);
    const hintId = `${id}-hint`;
    const hints = [];
    if (prop?.description) hints.push(prop.description);
    if (typeof prop?.minimum === "number" || typeof prop?.maximum === "number") {
      hints.push(`from ${prop.minimum ?? "…"} to ${prop.maximum ?? "…"}`);
    }
    if (isSecret(prop)) {
      hints.push(
        has ? "Secret: leave ******** to keep the stored value, clear it to remove it." : "Secret",
      );
    }
    const hint = hints.length ? h("small", { class: "hint", id: hintId }, hints.join(" · ")) : null;
    const common = {
      id,
      name: key,
      required: isRequired,
      "aria-required": isRequired ? "true" : undefined,
      "aria-describedby": hint ? hintId : undefined,
    };
    const labelText = prop?.title ?? key;
    const label = h(
      "label",
      { for: id },
      labelText,
      isRequired ? h("abbr", { class: "req", title: "required" }, "*") : null,
    );
    let input;
    let read;

    if (Array.isArray(prop?.enum)) {
      const options = prop.enum;
      input = h(
        "select",
        common,
        h("option", { value: "" }, isRequired ? "Choose…" : "(not set)"),
        options.map((opt, i) =>
          h(
            "option",
            { value: String(i), selected: initial !== undefined && opt === initial },
            String(opt),
          )
        ),
      );
      read = () => ({ value: input.value === "" ? undefined : options[Number(input.value)] });
    } else if (type === "boolean") {
      input = h("input", { ...common, type: "checkbox", checked: initial === true });
      const field = h(
        "div",
        { class: "field" },
        h("label", { class: "check", for: id }, input, labelText),
        hint,
      );
      container.append(field);
      readers.push([key, () => ({ value: input.checked })]);
      continue;
    } else if (type === "integer" || type === "number") {
      input = h("input", {
        ...common,
        type: "number",
        inputmode: type === "integer" ? "numeric" : "decimal",
        step: type === "integer" ? "1" : "any",
        min: prop?.minimum,
        max: prop?.maximum,
        value: initial === undefined || initial === null ? "" : String(initial),
      });
      read = () => {
        if (input.validity.badInput) return { error: `${key}: not a number` };
        return { value: input.value.trim() === "" ? undefined : Number(input.value) };
      };
    } else if (type === "string") {
      input = h("input", {
        ...common,
        type: isSecret(prop) ? "password" : "text",
        autocomplete: isSecret(prop) ? "new-password" : "off",
        spellcheck: "false",
        value: initial === undefined || initial === null ? "" : String(initial),
      });
      read = () => ({ value: input.value === "" ? undefined : input.value });
    } else {
      input = h("textarea", {
        ...common,
        spellcheck: "false",
        value: initial === undefined ? "" : JSON.stringify(initial, null, 2),
      });
      read = () => {
        if (input.value.trim() === "") return { value: undefined };
        try {
          return { value: JSON.parse(input.value) };
        } catch (err) {
          return { error: `${key}: invalid JSON (${err.message})` };
        }
      };
    }
    container.append(h("div", { class: "field" }, label, input, hint));
    readers.push([key, read]);
  }

  return {
    el: container,
    read() {
      const value = {};
      const errors = [];
      // Keys the schema does not list (when it allows them) are kept as they were.
      for (const [key, v] of Object.entries(values ?? {})) if (!known.has(key)) value[key] = v;
      for (const [key, reader] of readers) {
        const r = reader();
        if (r.error) errors.push(r.error);
        else if (r.value !== undefined) value[key] = r.value;
      }
      return { value, errors };
    },
  };
}

// ---------------------------------------------------------------------------------------
// Header: system status

function startStatus() {
  const el = document.getElementById("status");
  const ready = h("span", { class: "badge", id: "ready-badge" });
  const version = h("span", { id: "version" });
  const uptime = h("span", { id: "uptime" });
  const counts = h("span", { id: "counts" });
  el.replaceChildren(ready, version, uptime, counts);
  setText(ready, "connecting…");
  ready.dataset.tone = "idle";
  // The uptime ticks between refreshes: the server's value plus the time since it came.
  let since;
  setInterval(() => {
    if (since && !connection.down) {
      const seconds = since.seconds + (performance.now() - since.at) / 1000;
      setText(uptime, `up ${formatDuration(`${seconds}s`)}`);
    }
  }, 1000);
  const offline = (message) => {
    ready.dataset.tone = "error";
    setText(ready, "Offline");
    ready.title = message;
  };
  connection.lostListeners.add(offline);
  const p = poll(async () => {
    try {
      const s = await api("GET", "/v1/status");
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
      if (err.status === 0) offline(err.message);
      else {
        ready.dataset.tone = "error";
        setText(ready, "Status unavailable");
        ready.title = err.message;
      }
    }
  }, STATUS_REFRESH_MS);
  connection.listeners.add(() => p.now());
}

// ---------------------------------------------------------------------------------------
// Modules

/** Start/Stop/Restart buttons for a module; `update(module)` enables the right ones. */
function moduleActions(notice, refresh) {
  let current;
  let busy = false;
  const start = h("button", { type: "button", class: "btn", onclick: () => act("start") }, "Start");
  const stop = h(
    "button",
    { type: "button", class: "btn danger", onclick: () => act("stop") },
    "Stop",
  );
  const restart = h(
    "button",
    { type: "button", class: "btn", onclick: () => act("restart") },
    "Restart",
  );
  const verbs = {
    start: ["Starting", "started"],
    stop: ["Stopping", "stopped"],
    restart: ["Restarting", "restarted"],
  };
  async function act(verb) {
    const name = current.name;
    if (verb === "stop") {
      const answer = await confirmDialog({
        title: `Stop ${name}?`,
        message:
          `${name} stays stopped until you start it again. Its entities go offline and the flows that use them degrade.`,
        confirmLabel: "Stop module",
      });
      if (!answer.confirmed) return;
    }
    busy = true;
    update(current);
    notice.show(`${verbs[verb][0]} ${name}…`, "busy");
    try {
      const { module: m = {} } = await api("POST", `/v1/modules/${enc(name)}:${verb}`, {});
      const pid = m.pid ? `, pid ${m.pid}` : "";
      notice.show(
        `${name} ${verbs[verb][1]} (now ${words(short(m.state, "MODULE_STATE_"))}${pid}).`,
        "ok",
      );
    } catch (err) {
      notice.show(`Could not ${verb} ${name}: ${err.message}`, "error");
    } finally {
      busy = false;
      update(current);
      refresh();
    }
  }
  function update(m) {
    current = m;
    const state = short(m.state, "MODULE_STATE_");
    start.disabled = busy || !(state === "STOPPED" || state === "FAILED");
    stop.disabled = busy || state === "STOPPED" || state === "STOPPING";
    restart.disabled = busy || state === "STOPPING";
    start.setAttribute("aria-label", `Start ${m.name}`);
    stop.setAttribute("aria-label", `Stop ${m.name}`);
    restart.setAttribute("aria-label", `Restart ${m.name}`);
  }
  return { el: h("div", { class: "actions" }, start, stop, restart), update };
}

function modulesView() {
  const notice = noticeBox();
  const loadError = h("p", { class: "load-error", role: "alert", hidden: true });
  const tbody = h("tbody");
  const wrap = table(
    "Modules",
    ["Name", "State", "Health", "PID", "Port", "Restarts", "Last error", "Actions"],
    tbody,
    "modules",
  );
  const empty = h(
    "p",
    { class: "empty", hidden: true },
    "No modules yet: add module folders (each with a module.yaml) to the modules directory.",
  );
  const el = h(
    "section",
    {},
    h("h1", { tabindex: "-1" }, "Modules"),
    notice.el,
    loadError,
    wrap,
    empty,
  );
  const refresh = () => p.now();

  function create(m) {
    const link = h("a", { class: "row-link", href: `#/modules/${enc(m.name)}` }, m.name);
    const actions = moduleActions(notice, refresh);
    const tr = h(
      "tr",
      {},
      td("Name", "col-name", link, h("div", { class: "muted small col-desc" })),
      td("State", "col-state", badge("module", m.state)),
      td(
        "Health",
        "col-health",
        badge("health", m.health?.state),
        h("div", { class: "sub muted small" }),
      ),
      td("PID", "col-pid num mono"),
      td("Port", "col-port num mono"),
      td("Restarts", "col-restarts num mono"),
      td("Last error", "col-error error-text small"),
      td("Actions", "col-actions", actions.el),
    );
    tr.actions = actions;
    return tr;
  }
  function update(tr, m) {
    setText(tr.querySelector(".col-desc"), m.description ?? "");
    updateBadge(tr.querySelector(".col-state .badge"), "module", m.state);
    updateBadge(tr.querySelector(".col-health .badge"), "health", m.health?.state);
    setText(tr.querySelector(".col-health .sub"), m.health?.message ?? "");
    setText(cell(tr, "col-pid"), m.pid ? String(m.pid) : "—");
    setText(cell(tr, "col-port"), m.grpcPort ? String(m.grpcPort) : "—");
    setText(cell(tr, "col-restarts"), String(m.restarts ?? 0));
    setText(cell(tr, "col-error"), m.lastError ?? "");
    tr.actions.update(m);
  }

  const p = poll(async () => {
    try {
      const { modules = [] } = await api("GET", "/v1/modules");
      keyedRows(tbody, modules, (m) => m.name, create, update);
      empty.hidden = modules.length > 0;
      showLoadError(loadError, wrap, "modules", null);
    } catch (err) {
      showLoadError(loadError, wrap, "modules", err);
    }
  }, LIST_REFRESH_MS);
  return { el, title: "Modules", unmount: () => p.stop() };
}

function capabilityList(capabilities) {
  if (!capabilities?.length) return h("p", { class: "empty" }, "No entity types declared.");
  return h(
    "ul",
    { class: "plain" },
    capabilities.map((c) =>
      h(
        "li",
        {},
        h("strong", { class: "mono" }, c.entityType),
        " ",
        h("span", { class: "badge", dataset: { tone: "info" } }, short(c.kind, "ENTITY_KIND_")),
        c.description ? h("div", { class: "muted small" }, c.description) : null,
        c.inputs?.length
          ? h("div", { class: "small" }, "In: ", c.inputs.map(formatMedia).join(", "))
          : null,
        c.outputs?.length
          ? h("div", { class: "small" }, "Out: ", c.outputs.map(formatMedia).join(", "))
          : null,
        c.transforms?.length
          ? h(
            "div",
            { class: "small" },
            "Transforms:",
            h(
              "ul",
              {},
              c.transforms.map((t) =>
                h(
                  "li",
                  {},
                  `${formatMedia(t.input)} → ${formatMedia(t.output)}`,
                  t.cost
                    ? h(
                      "span",
                      { class: "muted" },
                      ` (cpu ${t.cost.cpu ?? 0}, ${t.cost.latencyMs ?? 0} ms, quality loss ${
                        t.cost.qualityLoss ?? 0
                      })`,
                    )
                    : null,
                )
              ),
            ),
          )
          : null,
      )
    ),
  );
}

function historyTable(history) {
  if (!history?.length) return h("p", { class: "empty" }, "Not started yet.");
  const rows = [...history].reverse().map((r) =>
    h(
      "tr",
      {},
      td("Run", "num", String(r.restart ?? 0)),
      td("PID", "num mono", String(r.pid ?? "")),
      td("Started", "", formatTime(r.startedAt)),
      td("Ended", "", r.exitedAt ? formatTime(r.exitedAt) : "running"),
      td(
        "Exit",
        "mono",
        r.exitCode !== undefined ? `code ${r.exitCode}` : (r.signal || (r.exitedAt ? "?" : "")),
      ),
      td("Reason", "small", r.reason ?? ""),
    )
  );
  return table(
    "Restart history",
    ["Run", "PID", "Started", "Ended", "Exit", "Reason"],
    h("tbody", {}, rows),
  );
}

function moduleFacts(m) {
  const facts = [
    ["Version", m.version],
    [
      "Health",
      `${words(short(m.health?.state, "HEALTH_STATE_")) || "—"}${
        m.health?.message ? `: ${m.health.message}` : ""
      }${
        m.health?.consecutiveFailures
          ? ` (${m.health.consecutiveFailures} failed checks in a row)`
          : ""
      }`,
    ],
    ["PID", m.pid ? String(m.pid) : "—"],
    ["gRPC port", m.grpcPort ? String(m.grpcPort) : "—"],
    ["Restarts", String(m.restarts ?? 0)],
    ["Started", formatTime(m.startedAt)],
    ["State since", formatTime(m.stateChangedAt)],
    ["Last error", m.lastError || "—"],
    ["Last exit", m.exitCode !== undefined ? `code ${m.exitCode}` : (m.exitSignal || "—")],
    ["Dependencies", m.dependencies?.length ? m.dependencies.join(", ") : "none"],
    ["Address", m.address || "spawned by the orchestrator"],
    ["Manifest", m.manifestPath || "—"],
  ];
  return h(
    "dl",
    { class: "facts" },
    facts.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v ?? "—")]),
  );
}

/** Live log tail of a module through EventSource (SSE), with a Follow switch. */
function logViewer(name) {
  const list = h("ol", {
    class: "log",
    id: "module-log",
    tabindex: "0",
    "aria-label": `Output of ${name}`,
  });
  const status = h("span", { class: "muted small", id: "log-status" });
  const followId = uniqueId("follow");
  const follow = h("input", { type: "checkbox", id: followId, checked: true });
  let source;
  let retry;

  function setStatus(text) {
    setText(status, text);
  }
  function add(entry) {
    const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    const stderr = entry.stream === "LOG_STREAM_STDERR";
    list.append(
      h(
        "li",
        { class: stderr ? "stderr" : "stdout" },
        h("span", { class: "time" }, entry.time ? new Date(entry.time).toLocaleTimeString() : ""),
        h("span", { class: "stream" }, stderr ? "err" : "out"),
        h("span", { class: "pid" }, `[${entry.pid ?? ""}]`),
        entry.line ?? "",
      ),
    );
    while (list.childElementCount > MAX_LOG_LINES) list.firstElementChild.remove();
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
    const es = new EventSource(`/v1/modules/${enc(name)}/logs?tail=200&follow=true`);
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
      if (typeof e.data === "string" && e.data) {
        let message = e.data;
        try {
          message = JSON.parse(e.data).message ?? message;
        } catch {
          // Plain text.
        }
        streamError = `stream error: ${message}`;
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

/** The configuration form of a module, rendered from its JSON Schema. */
function configEditor(name, notifyChange) {
  const el = h("div", { id: "config" }, h("p", { class: "muted" }, "Loading…"));
  // The module's schema at the last refresh: a change (e.g. it registered) reloads the form.
  let seenJson;
  let dirty = false;
  let loaded = false;
  let loading = false;

  async function load() {
    dirty = false;
    loading = true;
    let res;
    try {
      res = await api("GET", `/v1/modules/${enc(name)}/config`);
    } catch (err) {
      el.replaceChildren(
        h(
          "p",
          { class: "load-error", role: "alert" },
          `Could not load the configuration: ${err.message}`,
        ),
      );
      return;
    } finally {
      loading = false;
    }
    loaded = true;
    render(res.schema, res.current);
  }

  function render(schema, current) {
    if (isEmptySchema(schema)) {
      el.replaceChildren(h("p", { class: "muted" }, "This module declares no configuration."));
      return;
    }
    const revision = current?.revision ?? "0";
    const fields = schemaFields(schema, current?.config, {
      idPrefix: "cfg",
      useDefaults: !current,
    });
    const message = h("div", {
      class: "form-message",
      id: "config-message",
      "aria-live": "polite",
    });
    const save = h("button", { type: "submit", class: "btn primary" }, "Save configuration");
    const reset = h("button", { type: "button", class: "btn", onclick: () => load() }, "Reload");
    const info = h(
      "p",
      { class: "muted small", id: "config-revision" },
      current
        ? `Revision ${current.revision}, saved ${formatTime(current.updatedAt)}${
          current.updatedBy ? ` by ${current.updatedBy}` : ""
        }.`
        : "Not configured yet.",
    );
    const form = h(
      "form",
      { novalidate: true, class: "config-form", "aria-label": `Configuration of ${name}` },
      info,
      fields.el,
      h("div", { class: "form-actions" }, save, reset),
      message,
    );
    form.addEventListener("input", () => {
      dirty = true;
    });
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const { value, errors } = fields.read();
      if (errors.length) {
        showFormMessage(message, "error", `Not saved: ${errors.join("; ")}`);
        return;
      }
      save.disabled = true;
      showFormMessage(message, "", "Saving…");
      try {
        const res = await api("PUT", `/v1/modules/${enc(name)}/config`, {
          config: value,
          expectedRevision: revision,
          updatedBy: "dashboard",
        });
        dirty = false;
        render(schema, res.current);
        showFormMessage(
          el.querySelector("#config-message"),
          "ok",
          `Saved revision ${res.current?.revision}.`,
        );
        notifyChange();
      } catch (err) {
        save.disabled = false;
        showFormMessage(
          message,
          "error",
          err.message,
          err.status === 409
            ? "Reload to see the latest revision, then apply your change again."
            : "",
        );
      }
    });
    el.replaceChildren(form);
  }

  return {
    el,
    load,
    /** Reloads the form when the module's schema changed and nothing is being edited. */
    schemaSeen(schema) {
      const json = JSON.stringify(schema ?? {});
      const changed = seenJson !== undefined && json !== seenJson && !dirty;
      if (!loading && (changed || !loaded)) load();
      seenJson = json;
    },
  };
}

/** Shows a form result; an error shows the server's message verbatim. */
function showFormMessage(el, tone, text, extra) {
  el.className = `form-message ${tone}`;
  el.setAttribute("role", tone === "error" ? "alert" : "status");
  el.replaceChildren(
    ...(tone === "error" ? [h("span", { class: "server-message" }, text)] : [text]),
    extra ? h("div", { class: "small" }, extra) : "",
  );
}

function configHistory(name) {
  const el = h("div", {});
  async function load() {
    try {
      const { revisions = [] } = await api("GET", `/v1/modules/${enc(name)}/config/revisions`);
      renderIfChanged(el, revisions, () =>
        revisions.length
          ? h(
            "ul",
            { class: "plain small" },
            revisions.slice(0, 20).map((r) =>
              h(
                "li",
                {},
                h("strong", {}, `Revision ${r.revision}`),
                ` · ${formatTime(r.updatedAt)}${r.updatedBy ? ` · ${r.updatedBy}` : ""}`,
                h("pre", {}, JSON.stringify(r.config ?? {}, null, 2)),
              )
            ),
          )
          : h("p", { class: "empty" }, "No configuration stored yet."));
    } catch (err) {
      if (err.status !== 0) el.replaceChildren(h("p", { class: "load-error" }, err.message));
    }
  }
  return { el, load };
}

function moduleDetailView(name) {
  const notice = noticeBox();
  const loadError = h("p", { class: "load-error", role: "alert", hidden: true });
  const stateBadge = badge("module", "");
  stateBadge.id = "module-state";
  const actions = moduleActions(notice, () => p.now());
  const facts = h("div", {});
  const description = h("p", { class: "muted" });
  const capabilities = h("div", {});
  const history = h("div", {});
  const stderr = h("div", {});
  const logs = logViewer(name);
  const revisions = configHistory(name);
  const config = configEditor(name, () => {
    revisions.load();
    p.now();
  });
  const revisionsDetails = h(
    "details",
    { hidden: true, ontoggle: (e) => e.target.open && revisions.load() },
    h("summary", {}, "Configuration history"),
    revisions.el,
  );
  const el = h(
    "section",
    {},
    h("a", { href: "#/modules", class: "back" }, "← All modules"),
    h(
      "div",
      { class: "title-bar" },
      h("h1", { tabindex: "-1" }, h("span", { class: "mono" }, name), stateBadge),
      actions.el,
    ),
    description,
    notice.el,
    loadError,
    h(
      "div",
      { class: "grid" },
      h("section", { class: "panel", "aria-label": "Overview" }, h("h2", {}, "Overview"), facts),
      h(
        "section",
        { class: "panel", "aria-label": "Configuration" },
        h("h2", {}, "Configuration"),
        config.el,
        revisionsDetails,
      ),
    ),
    h(
      "section",
      { class: "panel", "aria-label": "Live output" },
      h("h2", {}, "Live output"),
      logs.el,
    ),
    h(
      "div",
      { class: "grid" },
      h(
        "section",
        { class: "panel", "aria-label": "Capabilities" },
        h("h2", {}, "Entity types"),
        capabilities,
      ),
      h(
        "section",
        { class: "panel", "aria-label": "Last standard error" },
        h("h2", {}, "Last standard error"),
        stderr,
      ),
    ),
    h(
      "section",
      { class: "panel", "aria-label": "Restart history" },
      h("h2", {}, "Restart history"),
      history,
    ),
  );

  const p = poll(async () => {
    let m;
    try {
      ({ module: m } = await api("GET", `/v1/modules/${enc(name)}`));
      showLoadError(loadError, null, "the module", null);
    } catch (err) {
      showLoadError(loadError, null, "the module", err);
      return;
    }
    updateBadge(stateBadge, "module", m.state);
    setText(description, m.description ?? "");
    actions.update(m);
    renderIfChanged(facts, m, moduleFacts);
    renderIfChanged(capabilities, m.capabilities ?? [], capabilityList);
    renderIfChanged(history, m.history ?? [], historyTable);
    renderIfChanged(
      stderr,
      m.lastStderr ?? [],
      (lines) =>
        lines.length
          ? h("pre", { id: "module-stderr" }, lines.join("\n"))
          : h("p", { class: "empty" }, "Nothing written to standard error yet."),
    );
    config.schemaSeen(m.configSchema);
    revisionsDetails.hidden = isEmptySchema(m.configSchema);
  }, LIST_REFRESH_MS);
  return {
    el,
    title: name,
    unmount() {
      p.stop();
      logs.close();
    },
  };
}

// ---------------------------------------------------------------------------------------
// Entities

const ENTITY_KINDS = ["SOURCE", "SINK", "CONVERTER", "ENDPOINT"];
const ENTITY_STATES = ["CREATING", "READY", "ACTIVE", "DEGRADED", "FAILED", "OFFLINE"];

function selectField(label, id, options, { value = "", all } = {}) {
  const select = h(
    "select",
    { id, name: id },
    all ? h("option", { value: "" }, all) : null,
    options.map(([v, text]) => h("option", { value: v, selected: v === value }, text)),
  );
  return { select, el: h("div", { class: "field" }, h("label", { for: id }, label), select) };
}

/** Replaces a select's options, keeping the selected value when it is still offered. */
function setOptions(select, options, placeholder) {
  const json = JSON.stringify([options, placeholder]);
  if (select.dataset.options === json) return;
  select.dataset.options = json;
  const value = select.value;
  select.replaceChildren(
    placeholder !== undefined ? h("option", { value: "" }, placeholder) : null,
    ...options.map(([v, text]) => h("option", { value: v }, text)),
  );
  if ([...select.options].some((o) => o.value === value)) select.value = value;
}

/** Every capability of every module: [{module, capability}], sorted by entity type. */
function allCapabilities(modules) {
  return modules.flatMap((m) =>
    (m.capabilities ?? []).map((c) => ({ module: m.name, capability: c }))
  )
    .sort((a, b) =>
      a.capability.entityType.localeCompare(b.capability.entityType) ||
      a.module.localeCompare(b.module)
    );
}

function entitiesView() {
  const notice = noticeBox();
  const loadError = h("p", { class: "load-error", role: "alert", hidden: true });
  const tbody = h("tbody");
  const wrap = table(
    "Entities",
    ["Name", "Type", "Kind", "Module", "State", "Origin", "Status", "Actions"],
    tbody,
    "entities",
  );
  const empty = h("p", { class: "empty", hidden: true }, "No entities match.");
  let modules = [];

  // Filters.
  const fType = selectField("Type", "filter-type", [], { all: "All types" });
  const fKind = selectField(
    "Kind",
    "filter-kind",
    ENTITY_KINDS.map((k) => [`ENTITY_KIND_${k}`, k]),
    {
      all: "All kinds",
    },
  );
  const fModule = selectField("Module", "filter-module", [], { all: "All modules" });
  const fState = selectField(
    "State",
    "filter-state",
    ENTITY_STATES.map((s) => [`ENTITY_STATE_${s}`, s]),
    {
      all: "All states",
    },
  );
  const filters = h(
    "form",
    {
      class: "inline-form panel",
      "aria-label": "Filter entities",
      onsubmit: (e) => e.preventDefault(),
    },
    fType.el,
    fKind.el,
    fModule.el,
    fState.el,
  );
  for (const f of [fType, fKind, fModule, fState]) {
    f.select.addEventListener("change", () => p.now());
  }

  // Create form.
  const createNotice = h("div", { class: "form-message", id: "entity-create-message" });
  const cType = selectField("Entity type", "create-type", []);
  cType.select.required = true;
  const cModule = selectField("Module", "create-module", []);
  const cName = h("input", {
    type: "text",
    id: "create-name",
    name: "name",
    required: true,
    "aria-required": "true",
  });
  const cId = h("input", { type: "text", id: "create-id", name: "id", spellcheck: "false" });
  const configBox = h("div", { id: "create-config" });
  let configFields;
  let configFor = "";
  const createForm = h(
    "form",
    { novalidate: true, "aria-label": "Create an entity" },
    h(
      "div",
      { class: "inline-form" },
      cType.el,
      cModule.el,
      h(
        "div",
        { class: "field" },
        h(
          "label",
          { for: "create-name" },
          "Name",
          h("abbr", { class: "req", title: "required" }, "*"),
        ),
        cName,
      ),
      h(
        "div",
        { class: "field" },
        h("label", { for: "create-id" }, "Id (optional)"),
        cId,
      ),
    ),
    h("h3", {}, "Configuration"),
    configBox,
    h(
      "div",
      { class: "form-actions" },
      h("button", { type: "submit", class: "btn primary" }, "Create entity"),
    ),
    createNotice,
  );

  function selectedCapability() {
    const type = cType.select.value;
    const candidates = allCapabilities(modules).filter((c) => c.capability.entityType === type);
    const chosen = candidates.find((c) => c.module === cModule.select.value) ?? candidates[0];
    return { candidates, chosen };
  }
  function updateCreateForm() {
    const caps = allCapabilities(modules);
    const types = [...new Set(caps.map((c) => c.capability.entityType))];
    setOptions(
      cType.select,
      types.map((t) => {
        const c = caps.find((x) => x.capability.entityType === t).capability;
        return [t, `${t} (${short(c.kind, "ENTITY_KIND_").toLowerCase()})`];
      }),
      types.length ? "Choose a type…" : "No module offers entity types",
    );
    const { candidates, chosen } = selectedCapability();
    setOptions(
      cModule.select,
      candidates.map((c) => [c.module, c.module]),
      candidates.length ? undefined : "—",
    );
    cModule.select.disabled = candidates.length <= 1;
    const key = chosen
      ? `${chosen.module}/${chosen.capability.entityType}/${
        JSON.stringify(chosen.capability.configSchema ?? {})
      }`
      : "";
    if (key === configFor) return;
    configFor = key;
    if (!chosen) {
      configFields = undefined;
      configBox.replaceChildren(h("p", { class: "muted small" }, "Choose an entity type first."));
    } else if (isEmptySchema(chosen.capability.configSchema)) {
      configFields = undefined;
      configBox.replaceChildren(
        h("p", { class: "muted small" }, "This entity type takes no configuration."),
      );
    } else {
      configFields = schemaFields(chosen.capability.configSchema, {}, {
        idPrefix: "ent",
        useDefaults: false,
      });
      configBox.replaceChildren(
        chosen.capability.description
          ? h("p", { class: "muted small" }, chosen.capability.description)
          : "",
        configFields.el,
      );
    }
  }
  cType.select.addEventListener("change", updateCreateForm);
  cModule.select.addEventListener("change", updateCreateForm);
  createForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const { chosen } = selectedCapability();
    if (!chosen) {
      showFormMessage(createNotice, "error", "Choose an entity type.");
      return;
    }
    const read = configFields?.read() ?? { value: {}, errors: [] };
    if (read.errors.length) {
      showFormMessage(createNotice, "error", `Not created: ${read.errors.join("; ")}`);
      return;
    }
    const body = {
      entityType: chosen.capability.entityType,
      name: cName.value.trim(),
      module: chosen.module,
      configuration: read.value,
    };
    if (cId.value.trim()) body.id = cId.value.trim();
    showFormMessage(createNotice, "", "Creating…");
    try {
      const { entity } = await api("POST", "/v1/entities", body);
      showFormMessage(
        createNotice,
        "ok",
        `Created entity ${entity.id} (${words(short(entity.state, "ENTITY_STATE_"))}).`,
      );
      cName.value = "";
      cId.value = "";
      configFor = "";
      updateCreateForm();
      p.now();
    } catch (err) {
      showFormMessage(createNotice, "error", err.message);
    }
  });

  async function destroy(entity) {
    const answer = await confirmDialog({
      title: `Delete ${entity.name || entity.id}?`,
      message: `The entity ${entity.id} is destroyed in module ${entity.module}.`,
      confirmLabel: "Delete entity",
      option: "Also delete the flows that use it",
    });
    if (!answer.confirmed) return;
    try {
      await api("DELETE", `/v1/entities/${enc(entity.id)}${answer.checked ? "?force=true" : ""}`);
      notice.show(`Deleted entity ${entity.id}.`, "ok");
    } catch (err) {
      notice.show(`Could not delete ${entity.id}: ${err.message}`, "error");
    }
    p.now();
  }

  function create(entity) {
    const del = h("button", {
      type: "button",
      class: "btn danger",
      onclick: () => destroy(tr.entity),
    }, "Delete");
    const tr = h(
      "tr",
      {},
      td("Name", "col-name", h("strong", {}), h("div", { class: "sub mono small muted" })),
      td("Type", "col-type mono small"),
      td("Kind", "col-kind small"),
      td("Module", "col-module"),
      td("State", "col-state", badge("entity", entity.state)),
      td("Origin", "col-origin small"),
      td("Status", "col-status small"),
      td("Actions", "col-actions", h("div", { class: "actions" }, del)),
    );
    tr.del = del;
    return tr;
  }
  function update(tr, e) {
    tr.entity = e;
    setText(tr.querySelector(".col-name strong"), e.name || e.id);
    setText(tr.querySelector(".col-name .sub"), e.id);
    setText(cell(tr, "col-type"), e.entityType);
    setText(cell(tr, "col-kind"), short(e.kind, "ENTITY_KIND_"));
    setText(cell(tr, "col-module"), e.module);
    updateBadge(tr.querySelector(".col-state .badge"), "entity", e.state);
    setText(cell(tr, "col-origin"), short(e.origin, "ENTITY_ORIGIN_").toLowerCase());
    const metrics = Object.entries(e.status?.metrics ?? {}).map(([k, v]) => `${k} ${v}`).join(", ");
    setText(cell(tr, "col-status"), [e.status?.message, metrics].filter(Boolean).join(" · "));
    tr.del.setAttribute("aria-label", `Delete ${e.name || e.id}`);
  }

  const p = poll(async () => {
    const query = new URLSearchParams();
    if (fType.select.value) query.set("entityType", fType.select.value);
    if (fKind.select.value) query.set("kind", fKind.select.value);
    if (fModule.select.value) query.set("module", fModule.select.value);
    if (fState.select.value) query.set("state", fState.select.value);
    try {
      const [modulesRes, entitiesRes] = await Promise.all([
        api("GET", "/v1/modules"),
        api("GET", `/v1/entities${query.size ? `?${query}` : ""}`),
      ]);
      modules = modulesRes.modules ?? [];
      const entities = entitiesRes.entities ?? [];
      const types = [...new Set(allCapabilities(modules).map((c) => c.capability.entityType))]
        .sort();
      setOptions(fType.select, types.map((t) => [t, t]), "All types");
      setOptions(fModule.select, modules.map((m) => [m.name, m.name]), "All modules");
      updateCreateForm();
      keyedRows(tbody, entities, (e) => e.id, create, update);
      empty.hidden = entities.length > 0;
      showLoadError(loadError, wrap, "entities", null);
    } catch (err) {
      showLoadError(loadError, wrap, "entities", err);
    }
  }, LIST_REFRESH_MS);

  const el = h(
    "section",
    {},
    h("h1", { tabindex: "-1" }, "Entities"),
    notice.el,
    loadError,
    filters,
    wrap,
    empty,
    h(
      "section",
      { class: "panel", "aria-label": "Create an entity" },
      h("h2", {}, "Create an entity"),
      createForm,
    ),
  );
  return { el, title: "Entities", unmount: () => p.stop() };
}

// ---------------------------------------------------------------------------------------
// Flows

const QUALITY_PRESETS = ["UNSPECIFIED", "LOW", "MEDIUM", "HIGH", "AUTO"];

/** The hops of a path, one line per media type. */
function pathView(hops) {
  if (!hops?.length) return h("span", { class: "muted" }, "—");
  const byMedia = new Map();
  for (const hop of hops) {
    const media = short(hop.mediaType, "MEDIA_TYPE_").toLowerCase() || "media";
    if (!byMedia.has(media)) byMedia.set(media, []);
    byMedia.get(media).push(hop);
  }
  return [...byMedia].map(([media, list]) =>
    h(
      "div",
      { class: "path-line" },
      h("span", { class: "media-label" }, media),
      h(
        "ol",
        { class: "path", "aria-label": `${media} path` },
        list.map((hop) =>
          h(
            "li",
            {},
            h(
              "span",
              {
                class: "hop",
                title: [
                  hop.entityType,
                  hop.module && `module ${hop.module}`,
                  hop.input && `in ${formatMedia(hop.input)}`,
                  hop.output && `out ${formatMedia(hop.output)}`,
                  hop.cost ? `cost ${hop.cost}` : "",
                ].filter(Boolean).join(" · "),
              },
              hop.entityId || `(${hop.entityType})`,
            ),
          )
        ),
      ),
    )
  );
}

function entityLabel(e) {
  return `${e.name || e.id} (${e.id}, ${e.entityType})`;
}

function flowsView() {
  const notice = noticeBox();
  const loadError = h("p", { class: "load-error", role: "alert", hidden: true });
  const tbody = h("tbody");
  const wrap = table("Flows", ["Flow", "State", "Path", "Quality", "Actions"], tbody, "flows");
  const empty = h("p", { class: "empty", hidden: true }, "No flows yet.");

  // Create form.
  const source = selectField("Source", "flow-source", []);
  const target = selectField("Target", "flow-target", []);
  const quality = selectField(
    "Quality",
    "flow-quality",
    QUALITY_PRESETS.map((
      q,
    ) => [`QUALITY_PRESET_${q}`, q === "UNSPECIFIED" ? "module default" : q.toLowerCase()]),
  );
  quality.el.classList.add("narrow");
  const message = h("div", { class: "form-message", id: "flow-message" });
  const preview = h("div", { id: "flow-preview" });
  const previewButton = h("button", { type: "button", class: "btn" }, "Preview path");
  const form = h(
    "form",
    { novalidate: true, "aria-label": "Create a flow" },
    h("div", { class: "inline-form" }, source.el, target.el, quality.el),
    h(
      "div",
      { class: "form-actions" },
      previewButton,
      h("button", { type: "submit", class: "btn primary" }, "Create flow"),
    ),
    message,
    preview,
  );
  previewButton.addEventListener("click", async () => {
    if (!source.select.value || !target.select.value) {
      showFormMessage(message, "error", "Choose a source and a target.");
      return;
    }
    showFormMessage(message, "", "Finding the cheapest path…");
    preview.replaceChildren();
    try {
      const res = await api("POST", "/v1/paths:find", {
        sourceEntityId: source.select.value,
        targetEntityId: target.select.value,
      });
      showFormMessage(message, "ok", `Path found, total cost ${res.totalCost ?? 0}.`);
      preview.replaceChildren(...pathView((res.paths ?? []).flatMap((path) => path.hops ?? [])));
    } catch (err) {
      showFormMessage(message, "error", err.message);
    }
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!source.select.value || !target.select.value) {
      showFormMessage(message, "error", "Choose a source and a target.");
      return;
    }
    const body = { sourceEntityId: source.select.value, targetEntityId: target.select.value };
    if (quality.select.value !== "QUALITY_PRESET_UNSPECIFIED") {
      body.quality = { preset: quality.select.value };
    }
    showFormMessage(message, "", "Creating the flow…");
    preview.replaceChildren();
    try {
      const { flow } = await api("POST", "/v1/flows", body);
      showFormMessage(
        message,
        "ok",
        `Created flow ${flow.id} (${words(short(flow.state, "FLOW_STATE_"))}).`,
      );
      p.now();
    } catch (err) {
      showFormMessage(message, "error", err.message);
    }
  });

  async function flowAction(flow, verb) {
    if (verb === "delete") {
      const answer = await confirmDialog({
        title: `Delete flow ${flow.id}?`,
        message:
          "The flow is stopped, disconnected, and the converters created for it are destroyed.",
        confirmLabel: "Delete flow",
      });
      if (!answer.confirmed) return;
    }
    try {
      if (verb === "delete") await api("DELETE", `/v1/flows/${enc(flow.id)}`);
      else await api("POST", `/v1/flows/${enc(flow.id)}:${verb}`, {});
      notice.show(
        `Flow ${flow.id}: ${
          verb === "stop" ? "stopped" : verb === "start" ? "started" : "deleted"
        }.`,
        "ok",
      );
    } catch (err) {
      notice.show(`Could not ${verb} flow ${flow.id}: ${err.message}`, "error");
    }
    p.now();
  }
  async function adjustQuality(flow, preset) {
    try {
      await api("POST", `/v1/flows/${enc(flow.id)}:adjustQuality`, { quality: { preset } });
      notice.show(
        `Flow ${flow.id}: quality set to ${short(preset, "QUALITY_PRESET_").toLowerCase()}.`,
        "ok",
      );
    } catch (err) {
      notice.show(`Could not change the quality of flow ${flow.id}: ${err.message}`, "error");
    }
    p.now();
  }

  function create(flow) {
    const start = h("button", {
      type: "button",
      class: "btn",
      onclick: () => flowAction(tr.flow, "start"),
    }, "Start");
    const stop = h("button", {
      type: "button",
      class: "btn",
      onclick: () => flowAction(tr.flow, "stop"),
    }, "Stop");
    const del = h("button", {
      type: "button",
      class: "btn danger",
      onclick: () => flowAction(tr.flow, "delete"),
    }, "Delete");
    const q = h(
      "select",
      { "aria-label": `Quality of flow ${flow.id}` },
      QUALITY_PRESETS.map((x) =>
        h(
          "option",
          { value: `QUALITY_PRESET_${x}` },
          x === "UNSPECIFIED" ? "default" : x.toLowerCase(),
        )
      ),
    );
    q.addEventListener("change", () => adjustQuality(tr.flow, q.value));
    const tr = h(
      "tr",
      {},
      td("Flow", "col-flow", h("strong", { class: "mono" }), h("div", { class: "sub small" })),
      td("State", "col-state", badge("flow", flow.state), h("div", { class: "sub small muted" })),
      td("Path", "col-path"),
      td("Quality", "col-quality", q),
      td("Actions", "col-actions", h("div", { class: "actions" }, start, stop, del)),
    );
    Object.assign(tr, { start, stop, del, q });
    return tr;
  }
  function update(tr, f) {
    tr.flow = f;
    setText(tr.querySelector(".col-flow strong"), f.id);
    setText(tr.querySelector(".col-flow .sub"), `${f.sourceEntityId} → ${f.targetEntityId}`);
    updateBadge(tr.querySelector(".col-state .badge"), "flow", f.state);
    setText(tr.querySelector(".col-state .sub"), f.message ?? "");
    renderIfChanged(cell(tr, "col-path"), f.path ?? [], pathView);
    const preset = f.quality?.preset ?? "QUALITY_PRESET_UNSPECIFIED";
    if (document.activeElement !== tr.q && tr.q.value !== preset) tr.q.value = preset;
    const state = short(f.state, "FLOW_STATE_");
    tr.start.disabled = !(state === "STOPPED" || state === "FAILED" || state === "DEGRADED");
    tr.stop.disabled = state === "STOPPED";
    tr.start.setAttribute("aria-label", `Start flow ${f.id}`);
    tr.stop.setAttribute("aria-label", `Stop flow ${f.id}`);
    tr.del.setAttribute("aria-label", `Delete flow ${f.id}`);
  }

  const p = poll(async () => {
    try {
      const [flowsRes, entitiesRes] = await Promise.all([
        api("GET", "/v1/flows"),
        api("GET", "/v1/entities"),
      ]);
      const flows = flowsRes.flows ?? [];
      const entities = (entitiesRes.entities ?? []).filter((e) =>
        short(e.origin, "ENTITY_ORIGIN_") !== "FLOW"
      );
      const kind = (e) => short(e.kind, "ENTITY_KIND_");
      setOptions(
        source.select,
        entities.filter((e) => ["SOURCE", "ENDPOINT"].includes(kind(e))).map((
          e,
        ) => [e.id, entityLabel(e)]),
        "Choose a source…",
      );
      setOptions(
        target.select,
        entities.filter((e) => ["SINK", "ENDPOINT"].includes(kind(e))).map((
          e,
        ) => [e.id, entityLabel(e)]),
        "Choose a target…",
      );
      keyedRows(tbody, flows, (f) => f.id, create, update);
      empty.hidden = flows.length > 0;
      showLoadError(loadError, wrap, "flows", null);
    } catch (err) {
      showLoadError(loadError, wrap, "flows", err);
    }
  }, LIST_REFRESH_MS);

  const el = h(
    "section",
    {},
    h("h1", { tabindex: "-1" }, "Flows"),
    notice.el,
    loadError,
    wrap,
    empty,
    h(
      "section",
      { class: "panel", "aria-label": "Create a flow" },
      h("h2", {}, "Create a flow"),
      form,
    ),
  );
  return { el, title: "Flows", unmount: () => p.stop() };
}

// ---------------------------------------------------------------------------------------
// Events: one stream for the whole page, so the list fills while other views are open.

const events = {
  items: [],
  status: "connecting…",
  available: true,
  listeners: new Set(),
  source: undefined,
  retry: undefined,
  lastId: undefined,
  changed() {
    for (const fn of this.listeners) fn();
  },
  add(item) {
    this.items.unshift(item);
    if (this.items.length > MAX_EVENTS) this.items.length = MAX_EVENTS;
  },
  setStatus(status, available = true) {
    this.status = status;
    this.available = available;
    this.changed();
  },
};

function startEvents() {
  clearTimeout(events.retry);
  events.source?.close();
  // Replays the history the orchestrator holds (a reconnecting EventSource resumes with
  // Last-Event-ID by itself).
  const es = new EventSource(`/v1/events?afterId=${events.lastId ?? "1"}`);
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
    if (typeof e.data === "string" && e.data) {
      let message = e.data;
      try {
        message = JSON.parse(e.data).message ?? message;
      } catch {
        // Plain text.
      }
      streamError = `stream error: ${message}`;
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
      const res = await fetch("/v1/events", {
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
      if (err?.name !== "AbortError") why = `cannot reach the orchestrator (${err.message})`;
    }
    events.setStatus(`Events unavailable: ${why}. Retrying every few seconds.`, false);
    events.retry = setTimeout(startEvents, RETRY_MS);
  });
}

function eventsView() {
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
    ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"].map((s) => [s, s.toLowerCase()]),
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
      onsubmit: (e) => e.preventDefault(),
    },
    severity.el,
    h("div", { class: "field" }, h("label", { for: "events-search" }, "Search"), search),
  );
  const ORDER = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"];

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
      let sev = short(event.severity, "SEVERITY_");
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

// ---------------------------------------------------------------------------------------
// Router

const ROUTES = [
  [/^#\/modules\/([^/]+)$/, (m) => moduleDetailView(decodeURIComponent(m[1])), "modules"],
  [/^#\/entities$/, entitiesView, "entities"],
  [/^#\/flows$/, flowsView, "flows"],
  [/^#\/events$/, eventsView, "events"],
  [/^(#\/?(modules)?)?$/, modulesView, "modules"],
];

let currentView;

function route(focus) {
  const hash = location.hash;
  const found = ROUTES.find(([re]) => re.test(hash));
  if (!found) return; // Not a view (e.g. an in-page anchor): keep the current one.
  const [re, make, nav] = found;
  currentView?.unmount();
  currentView = make(hash.match(re));
  const main = document.getElementById("main");
  main.replaceChildren(currentView.el);
  document.title = `${currentView.title} · Call Assistant`;
  for (const a of document.querySelectorAll("[data-nav]")) {
    if (a.dataset.nav === nav) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  if (focus) main.querySelector("h1")?.focus();
}

function init() {
  document.getElementById("skip").addEventListener("click", (e) => {
    e.preventDefault();
    document.getElementById("main").focus();
  });
  startStatus();
  startEvents();
  addEventListener("hashchange", () => route(true));
  route(false);
}

init();
