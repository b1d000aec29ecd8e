// One module: facts, actions, declared entity types, run history, stderr, live log,
// configuration form and its history.

import { h, renderIfChanged, setText, table, td } from "./dom.js";
import { badge, formatMedia, formatTime, short, updateBadge, words } from "./format.js";
import { api, LIST_REFRESH_MS, poll } from "./api.js";
import { noticeBox, showLoadError } from "./messages.js";
import { isEmptySchema } from "./schema_form.js";
import { moduleActions } from "./modules.js";
import { logViewer } from "./log_viewer.js";
import { configEditor, configHistory } from "./config_editor.js";
import { ENUM_PREFIX, urls } from "./protocol.js";

/** @import { Module, EntityCapability } from "./api_types.js" */

/** @param {EntityCapability[]} capabilities */
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
        h(
          "span",
          { class: "badge", dataset: { tone: "info" } },
          short(c.kind, ENUM_PREFIX.entityKind),
        ),
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

/** @param {Module["history"]} history */
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

/** @param {Module} m */
function moduleFacts(m) {
  const facts = [
    ["Version", m.version],
    [
      "Health",
      `${words(short(m.health?.state, ENUM_PREFIX.health)) || "—"}${
        m.health?.message ? `: ${m.health.message}` : ""
      }${
        m.health?.consecutiveFailures
          ? ` (${m.health.consecutiveFailures} failed checks in a row)`
          : ""
      }`,
    ],
    ["PID", m.pid ? String(m.pid) : "—"],
    ...(m.replicas?.length ? [["Other instances", replicasText(m.replicas)]] : []),
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

/** "#1 READY (pid 4242), #2 BACKOFF: why" for the other instances of a module. */
/** @param {Module["replicas"]} replicas */
function replicasText(replicas) {
  return replicas.map((r) => {
    const state = words(short(r.state, ENUM_PREFIX.module));
    const pid = r.pid ? ` (pid ${r.pid})` : "";
    return `#${r.index} ${state}${pid}${r.lastError ? `: ${r.lastError}` : ""}`;
  }).join(", ");
}

/** The view of one module (`#/modules/<name>`). */
/** @param {string} name */
export function moduleDetailView(name) {
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
    {
      hidden: true,
      ontoggle: (/** @type {Event} */ e) =>
        /** @type {HTMLDetailsElement} */ (e.target).open && revisions.load(),
    },
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
    /** @type {Module} */
    let m;
    try {
      ({ module: m } = await api("GET", urls.module(name)));
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
