// The entities list with filters, the create form (type picker and configuration), and
// delete.

import {
  cell,
  h,
  keyedRows,
  part,
  selectField,
  setOptions,
  setText,
  setTextWithLinks,
  table,
  td,
} from "./dom.js";
import { badge, short, updateBadge, words } from "./format.js";
import { api, LIST_REFRESH_MS, listAll, poll } from "./api.js";
import { confirmDialog, noticeBox, showFormMessage, showLoadError } from "./messages.js";
import { isEmptySchema, schemaFields } from "./schema_form.js";
import { ENTITY_KINDS, ENTITY_STATES, ENUM_PREFIX, urls } from "./protocol.js";

/** @import { Module, Entity, EntityCapability } from "./api_types.js" */
/** @import { ApiError } from "./api.js" */
/** An entity type a module offers. */
/** @typedef {{ module: string, capability: EntityCapability }} Offer */
/** A row of the entities table: its Delete button and the entity it shows. */
/** @typedef {HTMLTableRowElement & { del: HTMLButtonElement, entity: Entity }} EntityRow */

/** Every capability of every module: [{module, capability}], sorted by entity type. */
/** @param {Module[]} modules @returns {Offer[]} */
function allCapabilities(modules) {
  return modules.flatMap((m) =>
    (m.capabilities ?? []).map((c) => ({ module: m.name, capability: c }))
  )
    .sort((a, b) =>
      a.capability.entityType.localeCompare(b.capability.entityType) ||
      a.module.localeCompare(b.module)
    );
}

/** The Entities view (`#/entities`). */
export function entitiesView() {
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
  /** @type {Module[]} */
  let modules = [];

  // Filters.
  const fType = selectField("Type", "filter-type", [], { all: "All types" });
  const fKind = selectField(
    "Kind",
    "filter-kind",
    ENTITY_KINDS.map((k) => [`${ENUM_PREFIX.entityKind}${k}`, k]),
    {
      all: "All kinds",
    },
  );
  const fModule = selectField("Module", "filter-module", [], { all: "All modules" });
  const fState = selectField(
    "State",
    "filter-state",
    ENTITY_STATES.map((s) => [`${ENUM_PREFIX.entity}${s}`, s]),
    {
      all: "All states",
    },
  );
  const filters = h(
    "form",
    {
      class: "inline-form panel",
      "aria-label": "Filter entities",
      onsubmit: (/** @type {SubmitEvent} */ e) => e.preventDefault(),
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
  /** @type {ReturnType<typeof schemaFields> | undefined} */
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
        // Found: the types are those of `caps`.
        const c = /** @type {Offer} */ (caps.find((x) => x.capability.entityType === t))
          .capability;
        return [t, `${t} (${short(c.kind, ENUM_PREFIX.entityKind).toLowerCase()})`];
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
    /**
     * CreateEntity's body.
     * @type {{
     *   entityType: string,
     *   name: string,
     *   module: string,
     *   configuration: Record<string, unknown>,
     *   id?: string,
     * }}
     */
    const body = {
      entityType: chosen.capability.entityType,
      name: cName.value.trim(),
      module: chosen.module,
      configuration: read.value,
    };
    if (cId.value.trim()) body.id = cId.value.trim();
    showFormMessage(createNotice, "", "Creating…");
    try {
      /** @type {{ entity: Entity }} */
      const { entity } = await api("POST", urls.entities(), body);
      showFormMessage(
        createNotice,
        "ok",
        `Created entity ${entity.id} (${words(short(entity.state, ENUM_PREFIX.entity))}).`,
      );
      cName.value = "";
      cId.value = "";
      configFor = "";
      updateCreateForm();
      p.now();
    } catch (err) {
      showFormMessage(createNotice, "error", /** @type {Error} */ (err).message);
    }
  });

  /** @param {Entity} entity */
  async function destroy(entity) {
    const answer = await confirmDialog({
      title: `Delete ${entity.name || entity.id}?`,
      message: `The entity ${entity.id} is destroyed in module ${entity.module}.`,
      confirmLabel: "Delete entity",
      option: "Also delete the flows that use it",
    });
    if (!answer.confirmed) return;
    try {
      await api("DELETE", urls.entity(entity.id, answer.checked));
      notice.show(`Deleted entity ${entity.id}.`, "ok");
    } catch (err) {
      notice.show(`Could not delete ${entity.id}: ${/** @type {Error} */ (err).message}`, "error");
    }
    p.now();
  }

  /** @param {Entity} entity @returns {EntityRow} */
  function create(entity) {
    const del = h("button", {
      type: "button",
      class: "btn danger",
      onclick: () => destroy(tr.entity),
    }, "Delete");
    const tr = Object.assign(
      h(
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
      ),
      { del, entity },
    );
    return tr;
  }
  /** @param {EntityRow} tr @param {Entity} e */
  function update(tr, e) {
    tr.entity = e;
    setText(part(tr, ".col-name strong"), e.name || e.id);
    setText(part(tr, ".col-name .sub"), e.id);
    setText(cell(tr, "col-type"), e.entityType);
    setText(cell(tr, "col-kind"), short(e.kind, ENUM_PREFIX.entityKind));
    setText(cell(tr, "col-module"), e.module);
    updateBadge(part(tr, ".col-state .badge"), "entity", e.state);
    setText(cell(tr, "col-origin"), short(e.origin, "ENTITY_ORIGIN_").toLowerCase());
    const metrics = Object.entries(e.status?.metrics ?? {}).map(([k, v]) => `${k} ${v}`).join(", ");
    setTextWithLinks(
      cell(tr, "col-status"),
      [e.status?.message, metrics].filter(Boolean).join(" · "),
    );
    tr.del.setAttribute("aria-label", `Delete ${e.name || e.id}`);
  }

  const p = poll(async () => {
    const query = new URLSearchParams();
    if (fType.select.value) query.set("entityType", fType.select.value);
    if (fKind.select.value) query.set("kind", fKind.select.value);
    if (fModule.select.value) query.set("module", fModule.select.value);
    if (fState.select.value) query.set("state", fState.select.value);
    try {
      /** @type {[Module[], Entity[]]} */
      const [modulesRes, entities] = await Promise.all([
        listAll(urls.modules(), "modules"),
        listAll(urls.entities(query), "entities"),
      ]);
      modules = modulesRes;
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
