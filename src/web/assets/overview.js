// The overview (`#/overview`): the page to keep open. Every module with its CPU and
// memory (and a chart of the last minutes), every flow with its health per hop (fps,
// bitrate, latency, stalls, with charts), the converters a flow made folded under it,
// entities by their friendly names, and a live preview of what an entity sends or a
// flow's target receives. Figures come from the API every 2 s; the charts are kept in
// the page (a reload starts them again).

import { h, keyedRows, part, renderIfChanged, setText, table, td } from "./dom.js";
import { badge, short, updateBadge } from "./format.js";
import { enc, LIST_REFRESH_MS, listAll, poll } from "./api.js";
import { showLoadError } from "./messages.js";
import { drawSparkline, History, sparkline } from "./charts.js";
import { preview } from "./preview.js";
import { urls } from "./protocol.js";
import { hopsOf, previewableSenders, targetFeed } from "./hop_figures.js";

/** @import { Module, ModuleResources, Entity, Flow } from "./api_types.js" */
/** @import { HopFigures } from "./hop_figures.js" */
/**
 * A line of the modules table: a module, or another instance of it (`replica`).
 * @typedef {{
 *   key: string,
 *   name: string,
 *   label: string,
 *   replica?: boolean,
 *   state: string,
 *   resources?: ModuleResources,
 * }} ModuleLine
 */
/**
 * A row of the modules table, with its charts.
 * @typedef {HTMLTableRowElement & { cpuChart: SVGSVGElement, rssChart: SVGSVGElement }} ModuleRow
 */
/**
 * A flow's card: the flow it shows, its hops' table body, its chart and preview button.
 * @typedef {HTMLElement & {
 *   flow: Flow,
 *   hopBody: HTMLTableSectionElement,
 *   latencyChart: SVGSVGElement,
 *   feed: HTMLButtonElement,
 * }} FlowCard
 */
/**
 * A row of a flow's hops.
 * @typedef {HTMLTableRowElement & {
 *   charts: { fps: SVGSVGElement, bitrate: SVGSVGElement, latency: SVGSVGElement },
 * }} HopRow
 */
/**
 * A row of the entities table; its button previews the entity, or `feed` (what its flow
 * brings it).
 * @typedef {HTMLTableRowElement & {
 *   button: HTMLButtonElement & { entity: Entity, feed: string | undefined },
 * }} EntityRow
 */

/** How much the charts show. */
const CHART_SPAN_MS = 5 * 60_000;

const MIB = 1024 * 1024;
const round1 = (/** @type {number} */ n) => Math.round(Number(n) * 10) / 10;
const fmtCpu = (/** @type {number} */ cores) => `${round1(cores * 100)} %`;
const fmtMib = (/** @type {number} */ mib) => `${round1(mib)} MiB`;
const fmtFps = (/** @type {number} */ v) => `${round1(v)} fps`;
const fmtKbps = (/** @type {number} */ v) => `${Math.round(v)} kbit/s`;
const fmtMs = (/** @type {number} */ v) => `${Math.round(v)} ms`;

/** The Overview view. */
export function overviewView() {
  const history = new History(CHART_SPAN_MS);
  /** Entity names by id. @type {Map<string, string>} */
  const names = new Map();
  const friendly = (/** @type {string} */ id) => names.get(id) || id;
  /** @type {Set<string>} */
  let senders = new Set();
  /** @type {ReturnType<typeof preview> | undefined} */
  let current;

  const dock = h("div", { class: "preview-dock" });
  /** @param {string} entityId @param {string} title */
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
  /** @param {ModuleLine} row @returns {ModuleRow} */
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
    return Object.assign(tr, { cpuChart, rssChart });
  }
  /** @param {ModuleRow} tr @param {ModuleLine} row */
  function updateModule(tr, row) {
    const r = row.resources;
    updateBadge(part(tr, ".col-state .badge"), "module", row.state);
    const cpu = part(tr, ".col-cpu .value");
    const rss = part(tr, ".col-rss .value");
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
      part(tr, ".col-rss .limit"),
      limit
        ? `limit ${fmtMib(limit / MIB)}${
          r?.overLimitSince
            ? ", over it since " + new Date(r.overLimitSince).toLocaleTimeString()
            : ""
        }`
        : "",
    );
    part(tr, ".col-rss .limit").dataset.over = r?.overLimitSince ? "true" : "false";
    setText(part(tr, ".col-procs > .cell"), r ? String(r.processes ?? 0) : "—");
    drawSparkline(tr.cpuChart, history.points(`m/${row.key}/cpu`), CHART_SPAN_MS, fmtCpu);
    drawSparkline(tr.rssChart, history.points(`m/${row.key}/rss`), CHART_SPAN_MS, fmtMib);
  }

  // Flows.
  const flowError = h("p", { class: "load-error", role: "alert", hidden: true });
  const flowList = h("div", { class: "flow-cards" });
  const noFlows = h("p", { class: "empty", hidden: true }, "No flows yet.");

  /** @param {Flow} flow */
  function pathText(flow) {
    const hops = flow.path ?? [];
    const video = hops.filter((hop) => short(hop.mediaType, "MEDIA_TYPE_") === "VIDEO");
    const chosen = video.length ? video : hops;
    const ids = chosen.length
      ? chosen.map((hop) => hop.entityId).filter(Boolean)
      : [flow.sourceEntityId, flow.targetEntityId];
    return ids.map(friendly).join(" → ");
  }

  /** @param {Flow} flow @returns {FlowCard} */
  function createFlow(flow) {
    const hopBody = h("tbody");
    const latencyChart = sparkline(`End-to-end latency of ${flow.id}`);
    const feed = h("button", { type: "button", class: "btn preview-target" }, "Preview");
    feed.addEventListener("click", () => {
      const f = card.flow;
      const entity = targetFeed(f, senders);
      if (entity) openPreview(entity, `what ${friendly(f.targetEntityId)} receives (${f.id})`);
    });
    const card = Object.assign(
      h(
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
      ),
      { flow, hopBody, latencyChart, feed },
    );
    return card;
  }

  /** @param {HopFigures} hop @returns {HopRow} */
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
    return Object.assign(tr, { charts });
  }

  /** @param {string} flowId @returns {(tr: HopRow, hop: HopFigures) => void} */
  function updateHop(flowId) {
    return (tr, hop) => {
      const who = hop.entityId ? friendly(hop.entityId) : hop.module;
      setText(part(tr, ".col-hop .name"), hop.side ? `${who} (${hop.side})` : who);
      setText(
        part(tr, ".col-hop .sub"),
        [hop.module, hop.entityId && hop.entityId !== who ? hop.entityId : "", hop.message]
          .filter(Boolean).join(" · "),
      );
      const state = part(tr, ".hop-state");
      setText(state, hop.state ? hop.state.toLowerCase() : "—");
      state.dataset.state = hop.state;
      setText(part(tr, ".col-fps .value"), hop.fps !== undefined ? fmtFps(hop.fps) : "—");
      setText(
        part(tr, ".col-bitrate .value"),
        hop.bitrateKbps ? fmtKbps(hop.bitrateKbps) : "—",
      );
      setText(
        part(tr, ".col-latency .value"),
        hop.latencyMs !== undefined ? fmtMs(hop.latencyMs) : "—",
      );
      setText(part(tr, ".col-stalls > .cell"), String(hop.stalls ?? 0));
      const k = `f/${flowId}/${hop.key}`;
      drawSparkline(tr.charts.fps, history.points(`${k}/fps`), CHART_SPAN_MS, fmtFps);
      drawSparkline(tr.charts.bitrate, history.points(`${k}/kbps`), CHART_SPAN_MS, fmtKbps);
      drawSparkline(tr.charts.latency, history.points(`${k}/latency`), CHART_SPAN_MS, fmtMs);
    };
  }

  /** @param {Flow} flow */
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

  /** @param {FlowCard} card @param {Flow} flow @param {Entity[]} entities */
  function updateFlow(card, flow, entities) {
    card.flow = flow;
    setText(part(card, ".flow-path"), pathText(flow));
    updateBadge(part(card, ".flow-head .badge"), "flow", flow.state);
    setText(
      part(card, ".flow-id"),
      `${flow.id}: ${flow.sourceEntityId} → ${flow.targetEntityId}`,
    );
    setText(part(card, ".flow-message"), flow.message ?? "");
    setText(part(card, ".flow-health .text"), healthText(flow));
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
      part(card, ".converters"),
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
  /** @param {Entity} e @returns {EntityRow} */
  function createEntity(e) {
    const button = Object.assign(h("button", { type: "button", class: "btn" }, "Preview"), {
      entity: e,
      feed: /** @type {string | undefined} */ (undefined),
    });
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
    return Object.assign(tr, { button });
  }
  /** @param {Flow[]} flows @returns {(tr: EntityRow, e: Entity) => void} */
  function updateEntity(flows) {
    return (tr, e) => {
      setText(part(tr, ".col-name strong"), e.name || e.id);
      setText(part(tr, ".col-name .mono"), e.id);
      setText(part(tr, ".col-type > .cell"), e.entityType);
      setText(part(tr, ".col-module > .cell"), e.module);
      updateBadge(part(tr, ".col-state .badge"), "entity", e.state);
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
      /** @type {Module[]} */
      const modules = await listAll(urls.modules(), "modules");
      /** @type {ModuleLine[]} */
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
      /** @type {[Flow[], Entity[]]} */
      const [flows, entities] = await Promise.all([
        listAll(urls.flows(), "flows"),
        listAll(urls.entities(), "entities"),
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
