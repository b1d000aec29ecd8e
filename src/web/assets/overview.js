// The overview (`#/overview`): the page to keep open. Every module with its CPU and
// memory (and a chart of the last minutes), every flow with its health per hop (fps,
// bitrate, latency, stalls, with charts), the converters a flow made folded under it,
// entities by their friendly names, and a live preview of what an entity sends or a
// flow's target receives. Figures come from the API every 2 s; the charts are kept in
// the page (a reload starts them again).

import { h, keyedRows, renderIfChanged, setText, table, td } from "./dom.js";
import { badge, short, updateBadge } from "./format.js";
import { api, enc, LIST_REFRESH_MS, poll } from "./api.js";
import { showLoadError } from "./messages.js";
import { drawSparkline, History, sparkline } from "./charts.js";
import { preview } from "./preview.js";
import { hopsOf, previewableSenders, targetFeed } from "./hop_figures.js";

/** How much the charts show. */
const CHART_SPAN_MS = 5 * 60_000;

const MIB = 1024 * 1024;
const round1 = (n) => Math.round(Number(n) * 10) / 10;
const fmtCpu = (cores) => `${round1(cores * 100)} %`;
const fmtMib = (mib) => `${round1(mib)} MiB`;
const fmtFps = (v) => `${round1(v)} fps`;
const fmtKbps = (v) => `${Math.round(v)} kbit/s`;
const fmtMs = (v) => `${Math.round(v)} ms`;

/** The Overview view. */
export function overviewView() {
  const history = new History(CHART_SPAN_MS);
  const names = new Map();
  const friendly = (id) => names.get(id) || id;
  let senders = new Set();
  let current;

  const dock = h("div", { class: "preview-dock" });
  function openPreview(entityId, title) {
    current?.stop();
    current = preview(entityId, title, closePreview);
    dock.replaceChildren(current.el);
    current.el.scrollIntoView?.({ block: "nearest" });
  }
  function closePreview() {
    current?.stop();
    current = undefined;
    dock.replaceChildren();
  }

  // Modules.
  const moduleError = h("p", { class: "load-error", role: "alert", hidden: true });
  const moduleBody = h("tbody");
  const moduleTable = table(
    "Modules with CPU and memory",
    ["Module", "State", "CPU", "Memory", "Processes"],
    moduleBody,
    "overview-modules",
  );
  function createModule(row) {
    const cpuChart = sparkline(`CPU of ${row.label}`);
    const rssChart = sparkline(`Memory of ${row.label}`);
    const tr = h(
      "tr",
      {},
      td(
        "Module",
        "col-name",
        row.replica
          ? h("span", {}, row.label)
          : h("a", { href: `#/modules/${enc(row.name)}` }, row.label),
      ),
      td("State", "col-state", badge("module", row.state)),
      td("CPU", "col-cpu num", h("span", { class: "value mono" }), cpuChart),
      td(
        "Memory",
        "col-rss num",
        h("span", { class: "value mono" }),
        rssChart,
        h("div", { class: "limit muted small" }),
      ),
      td("Processes", "col-procs num mono"),
    );
    Object.assign(tr, { cpuChart, rssChart });
    return tr;
  }
  function updateModule(tr, row) {
    const r = row.resources;
    updateBadge(tr.querySelector(".col-state .badge"), "module", row.state);
    const cpu = tr.querySelector(".col-cpu .value");
    const rss = tr.querySelector(".col-rss .value");
    if (r) {
      setText(cpu, fmtCpu(r.cpuCores ?? 0));
      cpu.title = `${round1(r.cpuSeconds ?? 0)} CPU seconds since it started`;
      setText(rss, fmtMib(Number(r.rssBytes ?? 0) / MIB));
    } else {
      setText(cpu, "—");
      setText(rss, "—");
    }
    const limit = Number(r?.memoryLimitBytes ?? 0);
    setText(
      tr.querySelector(".col-rss .limit"),
      limit
        ? `limit ${fmtMib(limit / MIB)}${
          r.overLimitSince
            ? ", over it since " + new Date(r.overLimitSince).toLocaleTimeString()
            : ""
        }`
        : "",
    );
    tr.querySelector(".col-rss .limit").dataset.over = r?.overLimitSince ? "true" : "false";
    setText(tr.querySelector(".col-procs > .cell"), r ? String(r.processes ?? 0) : "—");
    drawSparkline(tr.cpuChart, history.points(`m/${row.key}/cpu`), CHART_SPAN_MS, fmtCpu);
    drawSparkline(tr.rssChart, history.points(`m/${row.key}/rss`), CHART_SPAN_MS, fmtMib);
  }

  // Flows.
  const flowError = h("p", { class: "load-error", role: "alert", hidden: true });
  const flowList = h("div", { class: "flow-cards" });
  const noFlows = h("p", { class: "empty", hidden: true }, "No flows yet.");

  function pathText(flow) {
    const hops = flow.path ?? [];
    const video = hops.filter((hop) => short(hop.mediaType, "MEDIA_TYPE_") === "VIDEO");
    const chosen = video.length ? video : hops;
    const ids = chosen.length
      ? chosen.map((hop) => hop.entityId).filter(Boolean)
      : [flow.sourceEntityId, flow.targetEntityId];
    return ids.map(friendly).join(" → ");
  }

  function createFlow(flow) {
    const hopBody = h("tbody");
    const latencyChart = sparkline(`End-to-end latency of ${flow.id}`);
    const feed = h("button", { type: "button", class: "btn preview-target" }, "Preview");
    feed.addEventListener("click", () => {
      const f = card.flow;
      const entity = targetFeed(f, senders);
      if (entity) openPreview(entity, `what ${friendly(f.targetEntityId)} receives (${f.id})`);
    });
    const card = h(
      "article",
      { class: "flow-card", "aria-label": `Flow ${flow.id}` },
      h(
        "div",
        { class: "flow-head" },
        h("h3", {}, h("span", { class: "flow-path" }), " ", badge("flow", flow.state)),
        feed,
      ),
      h("p", { class: "flow-id muted small" }),
      h("p", { class: "flow-message small" }),
      h("p", { class: "flow-health small" }, h("span", { class: "text" }), latencyChart),
      table(
        `Hops of flow ${flow.id}`,
        ["Hop", "State", "fps", "Bitrate", "Latency", "Stalls"],
        hopBody,
        "hops",
      ),
      h("div", { class: "converters" }),
    );
    Object.assign(card, { hopBody, latencyChart, feed });
    return card;
  }

  function createHop(hop) {
    const charts = {
      fps: sparkline(`fps of ${hop.key}`),
      bitrate: sparkline(`bitrate of ${hop.key}`),
      latency: sparkline(`latency of ${hop.key}`),
    };
    const tr = h(
      "tr",
      {},
      td("Hop", "col-hop", h("span", { class: "name" }), h("div", { class: "muted small sub" })),
      td("State", "col-hopstate", h("span", { class: "hop-state" })),
      td("fps", "col-fps num", h("span", { class: "value mono" }), charts.fps),
      td("Bitrate", "col-bitrate num", h("span", { class: "value mono" }), charts.bitrate),
      td("Latency", "col-latency num", h("span", { class: "value mono" }), charts.latency),
      td("Stalls", "col-stalls num mono"),
    );
    tr.charts = charts;
    return tr;
  }

  function updateHop(flowId) {
    return (tr, hop) => {
      const who = hop.entityId ? friendly(hop.entityId) : hop.module;
      setText(tr.querySelector(".col-hop .name"), hop.side ? `${who} (${hop.side})` : who);
      setText(
        tr.querySelector(".col-hop .sub"),
        [hop.module, hop.entityId && hop.entityId !== who ? hop.entityId : "", hop.message]
          .filter(Boolean).join(" · "),
      );
      const state = tr.querySelector(".hop-state");
      setText(state, hop.state ? hop.state.toLowerCase() : "—");
      state.dataset.state = hop.state;
      setText(tr.querySelector(".col-fps .value"), hop.fps !== undefined ? fmtFps(hop.fps) : "—");
      setText(
        tr.querySelector(".col-bitrate .value"),
        hop.bitrateKbps ? fmtKbps(hop.bitrateKbps) : "—",
      );
      setText(
        tr.querySelector(".col-latency .value"),
        hop.latencyMs !== undefined ? fmtMs(hop.latencyMs) : "—",
      );
      setText(tr.querySelector(".col-stalls > .cell"), String(hop.stalls ?? 0));
      const k = `f/${flowId}/${hop.key}`;
      drawSparkline(tr.charts.fps, history.points(`${k}/fps`), CHART_SPAN_MS, fmtFps);
      drawSparkline(tr.charts.bitrate, history.points(`${k}/kbps`), CHART_SPAN_MS, fmtKbps);
      drawSparkline(tr.charts.latency, history.points(`${k}/latency`), CHART_SPAN_MS, fmtMs);
    };
  }

  function healthText(flow) {
    const hl = flow.health;
    if (!hl) return "Media health: not reported (no watchdog on this orchestrator).";
    if (!hl.watched) return "Media health: not watched (its modules report no media figures).";
    const parts = [];
    if (hl.latencyMs) parts.push(`latency ${fmtMs(hl.latencyMs)}`);
    if (hl.timeToFirstFrame) {
      parts.push(`first frame after ${round1(parseFloat(hl.timeToFirstFrame))} s`);
    }
    parts.push(`${hl.stalls ?? 0} stalls`);
    if (hl.reestablishments) parts.push(`${hl.reestablishments} re-established`);
    if (hl.reroutes) parts.push(`${hl.reroutes} re-routed`);
    return `Media health: ${parts.join(", ")}.`;
  }

  function updateFlow(card, flow, entities) {
    card.flow = flow;
    setText(card.querySelector(".flow-path"), pathText(flow));
    updateBadge(card.querySelector(".flow-head .badge"), "flow", flow.state);
    setText(
      card.querySelector(".flow-id"),
      `${flow.id}: ${flow.sourceEntityId} → ${flow.targetEntityId}`,
    );
    setText(card.querySelector(".flow-message"), flow.message ?? "");
    setText(card.querySelector(".flow-health .text"), healthText(flow));
    drawSparkline(card.latencyChart, history.points(`f/${flow.id}/latency`), CHART_SPAN_MS, fmtMs);
    const feed = targetFeed(flow, senders);
    card.feed.disabled = !feed;
    card.feed.title = feed
      ? `Play what ${friendly(flow.targetEntityId)} receives from ${friendly(feed)}`
      : "Nothing on this flow that a browser plays (WebRTC, HLS, MJPEG)";
    card.feed.setAttribute("aria-label", `Preview flow ${flow.id}`);
    keyedRows(card.hopBody, hopsOf(flow), (hop) => hop.key, createHop, updateHop(flow.id));
    // The converters the flow made, folded under it (not in the entities list).
    const made = entities.filter((e) =>
      short(e.origin, "ENTITY_ORIGIN_") === "FLOW" &&
      (flow.path ?? []).some((hop) => hop.entityId === e.id)
    );
    renderIfChanged(
      card.querySelector(".converters"),
      made.map((e) => [e.id, e.name, e.entityType, e.module, e.state, senders.has(e.id)]),
      () =>
        made.length === 0 ? null : h(
          "details",
          { class: "converter-list" },
          h(
            "summary",
            {},
            `${made.length} converter${made.length === 1 ? "" : "s"} made for this flow`,
          ),
          h(
            "ul",
            {},
            made.map((e) =>
              h(
                "li",
                { dataset: { entity: e.id } },
                `${e.name || e.id} (${e.entityType}, ${e.module}) `,
                badge("entity", e.state),
                senders.has(e.id)
                  ? h("button", {
                    type: "button",
                    class: "btn small-btn",
                    "aria-label": `Preview ${e.id}`,
                    onclick: () => openPreview(e.id, e.name || e.id),
                  }, "Preview")
                  : null,
              )
            ),
          ),
        ),
    );
  }

  // Entities made by people or discovered (a flow's converters are under their flow).
  const entityBody = h("tbody");
  const entityTable = table(
    "Entities",
    ["Entity", "Type", "Module", "State", "Preview"],
    entityBody,
    "overview-entities",
  );
  function createEntity(e) {
    const button = h("button", { type: "button", class: "btn" }, "Preview");
    button.addEventListener("click", () => {
      const entity = button.entity;
      const feed = senders.has(entity.id) ? entity.id : button.feed;
      if (feed) openPreview(feed, entity.name || entity.id);
    });
    const tr = h(
      "tr",
      {},
      td("Entity", "col-name", h("strong", {}), h("div", { class: "muted small mono" })),
      td("Type", "col-type"),
      td("Module", "col-module"),
      td("State", "col-state", badge("entity", e.state)),
      td("Preview", "col-preview", button),
    );
    tr.button = button;
    return tr;
  }
  function updateEntity(flows) {
    return (tr, e) => {
      setText(tr.querySelector(".col-name strong"), e.name || e.id);
      setText(tr.querySelector(".col-name .mono"), e.id);
      setText(tr.querySelector(".col-type > .cell"), e.entityType);
      setText(tr.querySelector(".col-module > .cell"), e.module);
      updateBadge(tr.querySelector(".col-state .badge"), "entity", e.state);
      // A sender plays its own media; a sink what its flow brings it.
      const into = flows.find((f) => f.targetEntityId === e.id && targetFeed(f, senders));
      tr.button.entity = e;
      tr.button.feed = into ? targetFeed(into, senders) : undefined;
      tr.button.disabled = !senders.has(e.id) && !tr.button.feed;
      tr.button.setAttribute("aria-label", `Preview ${e.id}`);
    };
  }

  const p = poll(async () => {
    const now = Date.now();
    try {
      const { modules = [] } = await api("GET", "/v1/modules");
      const rows = modules.flatMap((m) => [
        { key: m.name, name: m.name, label: m.name, state: m.state, resources: m.resources },
        ...(m.replicas ?? []).map((r) => ({
          key: `${m.name}@${r.index}`,
          name: m.name,
          label: `${m.name} #${r.index}`,
          replica: true,
          state: r.state,
          resources: r.resources,
        })),
      ]);
      for (const row of rows) {
        if (!row.resources) continue;
        history.add(`m/${row.key}/cpu`, row.resources.cpuCores ?? 0, now);
        history.add(`m/${row.key}/rss`, Number(row.resources.rssBytes ?? 0) / MIB, now);
      }
      keyedRows(moduleBody, rows, (r) => r.key, createModule, updateModule);
      showLoadError(moduleError, moduleTable, "modules", null);
    } catch (err) {
      showLoadError(moduleError, moduleTable, "modules", err);
    }
    try {
      const [{ flows = [] }, { entities = [] }] = await Promise.all([
        api("GET", "/v1/flows"),
        api("GET", "/v1/entities"),
      ]);
      names.clear();
      for (const e of entities) if (e.name) names.set(e.id, e.name);
      senders = previewableSenders(flows);
      for (const f of flows) {
        if (f.health?.latencyMs) history.add(`f/${f.id}/latency`, f.health.latencyMs, now);
        for (const hop of hopsOf(f)) {
          const k = `f/${f.id}/${hop.key}`;
          history.add(`${k}/fps`, hop.fps, now);
          history.add(`${k}/kbps`, hop.bitrateKbps, now);
          history.add(`${k}/latency`, hop.latencyMs, now);
        }
      }
      history.keep(["m/", ...flows.map((f) => `f/${f.id}/`)]);
      keyedRows(
        flowList,
        flows,
        (f) => f.id,
        createFlow,
        (card, f) => updateFlow(card, f, entities),
      );
      noFlows.hidden = flows.length > 0;
      const own = entities.filter((e) => short(e.origin, "ENTITY_ORIGIN_") !== "FLOW");
      keyedRows(entityBody, own, (e) => e.id, createEntity, updateEntity(flows));
      showLoadError(flowError, flowList, "flows", null);
    } catch (err) {
      showLoadError(flowError, flowList, "flows", err);
    }
  }, LIST_REFRESH_MS);

  const el = h(
    "section",
    { class: "overview" },
    h("h1", { tabindex: "-1" }, "Overview"),
    dock,
    h("h2", {}, "Flows"),
    flowError,
    flowList,
    noFlows,
    h("h2", {}, "Modules"),
    moduleError,
    moduleTable,
    h("h2", {}, "Entities"),
    entityTable,
  );
  return {
    el,
    title: "Overview",
    unmount() {
      p.stop();
      closePreview();
    },
  };
}
