// A module's configuration: the form rendered from its JSON Schema, and past revisions.

import { h, part, renderIfChanged } from "./dom.js";
import { formatTime } from "./format.js";
import { api, listAll } from "./api.js";
import { showFormMessage } from "./messages.js";
import { isEmptySchema, schemaFields } from "./schema_form.js";
import { urls } from "./protocol.js";

/** @import { JsonSchema, ConfigRevision } from "./api_types.js" */
/** @import { ApiError } from "./api.js" */

/** The configuration form of a module, rendered from its JSON Schema. */
/** @param {string} name @param {() => void} notifyChange called after a save */
export function configEditor(name, notifyChange) {
  const el = h("div", { id: "config" }, h("p", { class: "muted" }, "Loading…"));
  // The module's schema at the last refresh: a change (e.g. it registered) reloads the form.
  /** @type {string | undefined} */
  let seenJson;
  let dirty = false;
  let loaded = false;
  let loading = false;

  async function load() {
    dirty = false;
    loading = true;
    /** @type {{ schema?: JsonSchema, current?: ConfigRevision }} */
    let res;
    try {
      res = await api("GET", urls.moduleConfig(name));
    } catch (err) {
      el.replaceChildren(
        h(
          "p",
          { class: "load-error", role: "alert" },
          `Could not load the configuration: ${/** @type {Error} */ (err).message}`,
        ),
      );
      return;
    } finally {
      loading = false;
    }
    loaded = true;
    render(res.schema, res.current);
  }

  /** @param {JsonSchema | undefined} schema @param {ConfigRevision | undefined} answered */
  function render(schema, answered) {
    // Revision 0 is the shape the API gives before anything is stored.
    const current = answered && String(answered.revision) !== "0" ? answered : undefined;
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
        /** @type {{ current?: ConfigRevision }} */
        const res = await api("PUT", urls.moduleConfig(name), {
          config: value,
          expectedRevision: revision,
          updatedBy: "dashboard",
        });
        dirty = false;
        render(schema, res.current);
        showFormMessage(
          part(el, "#config-message"),
          "ok",
          `Saved revision ${res.current?.revision}.`,
        );
        notifyChange();
      } catch (err) {
        save.disabled = false;
        const e = /** @type {ApiError} */ (err);
        showFormMessage(
          message,
          "error",
          e.message,
          e.status === 409
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
    /** @param {JsonSchema | undefined} schema */
    schemaSeen(schema) {
      const json = JSON.stringify(schema ?? {});
      const changed = seenJson !== undefined && json !== seenJson && !dirty;
      if (!loading && (changed || !loaded)) load();
      seenJson = json;
    },
  };
}

/** The past configuration revisions of a module; `load()` fetches them. */
/** @param {string} name */
export function configHistory(name) {
  const el = h("div", {});
  async function load() {
    try {
      /** @type {ConfigRevision[]} */
      const revisions = await listAll(urls.moduleConfigRevisions(name), "revisions");
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
      const e = /** @type {ApiError} */ (err);
      if (e.status !== 0) el.replaceChildren(h("p", { class: "load-error" }, e.message));
    }
  }
  return { el, load };
}
