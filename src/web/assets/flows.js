// The flows list with path preview, create, stop, quality and delete.

import {
  cell,
  h,
  keyedRows,
  part,
  renderIfChanged,
  selectField,
  setOptions,
  setText,
  table,
  td,
} from "./dom.js";
import { badge, formatMedia, short, updateBadge, words } from "./format.js";
import { api, LIST_REFRESH_MS, listAll, poll } from "./api.js";
import { confirmDialog, noticeBox, showFormMessage, showLoadError } from "./messages.js";
import { ENUM_PREFIX, QUALITY_PRESETS, urls } from "./protocol.js";

/** @import { Flow, FlowStatus, PathHop, Entity } from "./api_types.js" */
/** @typedef {"start" | "stop" | "delete"} FlowVerb */
/**
 * A row of the flows table: the flow it shows and its controls.
 * @typedef {HTMLTableRowElement & {
 *   flow: Flow,
 *   start: HTMLButtonElement,
 *   stop: HTMLButtonElement,
 *   del: HTMLButtonElement,
 *   q: HTMLSelectElement,
 * }} FlowRow
 */

/**
 * The live figures modules report for a flow, one part per module: fps, bitrate, frames
 * and, from a screen, frames decoded and latency ("web-screen: 25 fps, decoded 812, ...").
 */
/** @param {FlowStatus[]} statuses */
function mediaFigures(statuses) {
  const round = (/** @type {number} */ n) => Math.round(Number(n));
  return (statuses ?? []).map((s) => {
    const m = s.metrics ?? {};
    const parts = [];
    if (m.fps !== undefined) parts.push(`${Math.round(Number(m.fps) * 10) / 10} fps`);
    if (m.bitrate_kbps) parts.push(`${round(m.bitrate_kbps)} kbit/s`);
    if (m.frames_decoded !== undefined) parts.push(`decoded ${round(m.frames_decoded)}`);
    else if (m.frames !== undefined) parts.push(`frames ${round(m.frames)}`);
    if (m.latency_ms !== undefined) parts.push(`latency ${round(m.latency_ms)} ms`);
    return parts.length ? `${s.module}: ${parts.join(", ")}` : "";
  }).filter(Boolean).join(" · ");
}

/** The hops of a path, one line per media type. */
/** @param {PathHop[]} hops @returns {HTMLElement | HTMLElement[]} */
function pathView(hops) {
  if (!hops?.length) return h("span", { class: "muted" }, "—");
  /** @type {Map<string, PathHop[]>} */
  const byMedia = new Map();
  for (const hop of hops) {
    const media = short(hop.mediaType, "MEDIA_TYPE_").toLowerCase() || "media";
    if (!byMedia.has(media)) byMedia.set(media, []);
    byMedia.get(media)?.push(hop);
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

/** @param {Entity} e */
function entityLabel(e) {
  return `${e.name || e.id} (${e.id}, ${e.entityType})`;
}

/** The Flows view (`#/flows`). */
export function flowsView() {
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
    ) => [
      `${ENUM_PREFIX.qualityPreset}${q}`,
      q === "UNSPECIFIED" ? "module default" : q.toLowerCase(),
    ]),
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
      /** @type {{ paths?: { hops?: PathHop[] }[], totalCost?: number }} */
      const res = await api("POST", urls.findPaths(), {
        sourceEntityId: source.select.value,
        targetEntityId: target.select.value,
      });
      showFormMessage(message, "ok", `Path found, total cost ${res.totalCost ?? 0}.`);
      // pathView gives one element when there are no hops: spread it as a list.
      preview.replaceChildren(
        ...[pathView((res.paths ?? []).flatMap((path) => path.hops ?? []))].flat(),
      );
    } catch (err) {
      showFormMessage(message, "error", /** @type {Error} */ (err).message);
    }
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!source.select.value || !target.select.value) {
      showFormMessage(message, "error", "Choose a source and a target.");
      return;
    }
    /** @type {{ sourceEntityId: string, targetEntityId: string, quality?: { preset: string } }} */
    const body = { sourceEntityId: source.select.value, targetEntityId: target.select.value };
    if (quality.select.value !== "QUALITY_PRESET_UNSPECIFIED") {
      body.quality = { preset: quality.select.value };
    }
    showFormMessage(message, "", "Creating the flow…");
    preview.replaceChildren();
    try {
      /** @type {{ flow: Flow }} */
      const { flow } = await api("POST", urls.flows(), body);
      showFormMessage(
        message,
        "ok",
        `Created flow ${flow.id} (${words(short(flow.state, ENUM_PREFIX.flow))}).`,
      );
      p.now();
    } catch (err) {
      showFormMessage(message, "error", /** @type {Error} */ (err).message);
    }
  });

  /** @param {Flow} flow @param {FlowVerb} verb */
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
      if (verb === "delete") await api("DELETE", urls.flow(flow.id));
      else await api("POST", urls.flowAction(flow.id, verb), {});
      notice.show(
        `Flow ${flow.id}: ${
          verb === "stop" ? "stopped" : verb === "start" ? "started" : "deleted"
        }.`,
        "ok",
      );
    } catch (err) {
      notice.show(
        `Could not ${verb} flow ${flow.id}: ${/** @type {Error} */ (err).message}`,
        "error",
      );
    }
    p.now();
  }
  /** @param {Flow} flow @param {string} preset a QualityPreset name */
  async function adjustQuality(flow, preset) {
    try {
      await api("POST", urls.flowAction(flow.id, "adjustQuality"), { quality: { preset } });
      notice.show(
        `Flow ${flow.id}: quality set to ${short(preset, "QUALITY_PRESET_").toLowerCase()}.`,
        "ok",
      );
    } catch (err) {
      const why = /** @type {Error} */ (err).message;
      notice.show(`Could not change the quality of flow ${flow.id}: ${why}`, "error");
    }
    p.now();
  }

  /** @param {Flow} flow @returns {FlowRow} */
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
    const tr = Object.assign(
      h(
        "tr",
        {},
        td(
          "Flow",
          "col-flow",
          h("strong", { class: "mono" }),
          h("div", { class: "sub small" }),
          h("div", { class: "figures small muted" }),
        ),
        td("State", "col-state", badge("flow", flow.state), h("div", { class: "sub small muted" })),
        td("Path", "col-path"),
        td("Quality", "col-quality", q),
        td("Actions", "col-actions", h("div", { class: "actions" }, start, stop, del)),
      ),
      { flow, start, stop, del, q },
    );
    return tr;
  }
  /** @param {FlowRow} tr @param {Flow} f */
  function update(tr, f) {
    tr.flow = f;
    setText(part(tr, ".col-flow strong"), f.id);
    setText(part(tr, ".col-flow .sub"), `${f.sourceEntityId} → ${f.targetEntityId}`);
    updateBadge(part(tr, ".col-state .badge"), "flow", f.state);
    setText(part(tr, ".col-state .sub"), f.message ?? "");
    setText(part(tr, ".col-flow .figures"), mediaFigures(f.statuses));
    renderIfChanged(cell(tr, "col-path"), f.path ?? [], pathView);
    const preset = f.quality?.preset ?? "QUALITY_PRESET_UNSPECIFIED";
    if (document.activeElement !== tr.q && tr.q.value !== preset) tr.q.value = preset;
    const state = short(f.state, ENUM_PREFIX.flow);
    tr.start.disabled = !(state === "STOPPED" || state === "FAILED" || state === "DEGRADED");
    tr.stop.disabled = state === "STOPPED";
    tr.start.setAttribute("aria-label", `Start flow ${f.id}`);
    tr.stop.setAttribute("aria-label", `Stop flow ${f.id}`);
    tr.del.setAttribute("aria-label", `Delete flow ${f.id}`);
  }

  const p = poll(async () => {
    try {
      /** @type {[Flow[], Entity[]]} */
      const [flows, allEntities] = await Promise.all([
        listAll(urls.flows(), "flows"),
        listAll(urls.entities(), "entities"),
      ]);
      const entities = allEntities.filter((e) => short(e.origin, "ENTITY_ORIGIN_") !== "FLOW");
      const kind = (/** @type {Entity} */ e) => short(e.kind, ENUM_PREFIX.entityKind);
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
