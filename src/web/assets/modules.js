// The modules list, with Start/Stop/Restart buttons (shared with the module detail).

import { cell, h, keyedRows, part, setText, table, td } from "./dom.js";
import { badge, short, updateBadge, words } from "./format.js";
import { api, enc, LIST_REFRESH_MS, listAll, poll } from "./api.js";
import { confirmDialog, noticeBox, showLoadError } from "./messages.js";
import { ENUM_PREFIX, urls } from "./protocol.js";

/** @import { Module } from "./api_types.js" */
/** @typedef {ReturnType<typeof moduleActions>} ModuleActions */
/** A row of the modules table. */
/** @typedef {HTMLTableRowElement & { actions: ModuleActions }} ModuleRow */

/** Start/Stop/Restart buttons for a module; `update(module)` enables the right ones. */
/**
 * @param {ReturnType<typeof noticeBox>} notice where the outcome is shown
 * @param {() => void} refresh called after an action
 */
export function moduleActions(notice, refresh) {
  /** @type {Module} */
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
  /** @type {Record<"start" | "stop" | "restart", [string, string]>} */
  const verbs = {
    start: ["Starting", "started"],
    stop: ["Stopping", "stopped"],
    restart: ["Restarting", "restarted"],
  };
  /** @param {"start" | "stop" | "restart"} verb */
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
      /** @type {{ module?: Partial<Module> }} */
      const { module: m = {} } = await api("POST", urls.moduleAction(name, verb), {});
      const pid = m.pid ? `, pid ${m.pid}` : "";
      notice.show(
        `${name} ${verbs[verb][1]} (now ${words(short(m.state, ENUM_PREFIX.module))}${pid}).`,
        "ok",
      );
    } catch (err) {
      notice.show(`Could not ${verb} ${name}: ${/** @type {Error} */ (err).message}`, "error");
    } finally {
      busy = false;
      update(current);
      refresh();
    }
  }
  /** @param {Module} m */
  function update(m) {
    current = m;
    const state = short(m.state, ENUM_PREFIX.module);
    start.disabled = busy || !(state === "STOPPED" || state === "FAILED");
    stop.disabled = busy || state === "STOPPED" || state === "STOPPING";
    restart.disabled = busy || state === "STOPPING";
    start.setAttribute("aria-label", `Start ${m.name}`);
    stop.setAttribute("aria-label", `Stop ${m.name}`);
    restart.setAttribute("aria-label", `Restart ${m.name}`);
  }
  return { el: h("div", { class: "actions" }, start, stop, restart), update };
}

/** The Modules view (`#/modules`, the start page). */
export function modulesView() {
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

  /** @param {Module} m @returns {ModuleRow} */
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
    return Object.assign(tr, { actions });
  }
  /** @param {ModuleRow} tr @param {Module} m */
  function update(tr, m) {
    setText(part(tr, ".col-desc"), m.description ?? "");
    updateBadge(part(tr, ".col-state .badge"), "module", m.state);
    updateBadge(part(tr, ".col-health .badge"), "health", m.health?.state);
    setText(part(tr, ".col-health .sub"), m.health?.message ?? "");
    setText(cell(tr, "col-pid"), m.pid ? String(m.pid) : "—");
    setText(cell(tr, "col-port"), m.grpcPort ? String(m.grpcPort) : "—");
    setText(cell(tr, "col-restarts"), String(m.restarts ?? 0));
    setText(cell(tr, "col-error"), m.lastError ?? "");
    tr.actions.update(m);
  }

  const p = poll(async () => {
    try {
      /** @type {Module[]} */
      const modules = await listAll(urls.modules(), "modules");
      keyedRows(tbody, modules, (m) => m.name, create, update);
      empty.hidden = modules.length > 0;
      showLoadError(loadError, wrap, "modules", null);
    } catch (err) {
      showLoadError(loadError, wrap, "modules", err);
    }
  }, LIST_REFRESH_MS);
  return { el, title: "Modules", unmount: () => p.stop() };
}
