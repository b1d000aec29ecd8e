// Form fields rendered from a JSON Schema (module configuration, entity configuration).

import { h } from "./dom.js";

/** @import { JsonSchema } from "./api_types.js" */
/** What a field read: its value (undefined: not set) or why it is wrong. */
/** @typedef {{ value?: unknown, error?: string }} FieldValue */

/** @param {JsonSchema | undefined} prop */
function schemaType(prop) {
  const t = prop?.type;
  if (Array.isArray(t)) return t.find((x) => x !== "null") ?? "string";
  if (typeof t === "string") return t;
  if (Array.isArray(prop?.enum)) return "enum";
  return "json";
}

/** @param {JsonSchema | undefined} prop */
function isSecret(prop) {
  return prop?.writeOnly === true || prop?.format === "password";
}

/** Whether a JSON Schema declares nothing (no form to show). */
/** @param {unknown} schema */
export function isEmptySchema(schema) {
  return !schema || typeof schema !== "object" || Object.keys(schema).length === 0;
}

/**
 * Builds form fields from a JSON Schema object: string, number, integer, boolean and enum
 * properties get inputs (secrets a password input), anything else a JSON text area.
 * Returns {el, read()} where read() gives {value, errors}. Validation is the server's:
 * the browser's own is off (the form has `novalidate`) so its message is the one shown.
 */
/**
 * @param {JsonSchema | undefined} schema
 * @param {Record<string, unknown> | undefined} values the stored values (keys the schema
 *   does not list are kept)
 * @param {{ idPrefix: string, useDefaults: boolean }} options ids start with `idPrefix`;
 *   `useDefaults` fills unset fields with the schema's defaults
 * @returns {{ el: HTMLElement, read(): { value: Record<string, unknown>, errors: string[] } }}
 */
export function schemaFields(schema, values, { idPrefix, useDefaults }) {
  const properties = schema?.properties && typeof schema.properties === "object"
    ? schema.properties
    : undefined;
  const required = new Set(Array.isArray(schema?.required) ? schema.required : []);
  const container = h("div", { class: "schema-fields" });
  /** @type {[string, () => FieldValue][]} */
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
          /** @type {unknown} what was typed */
          const parsed = JSON.parse(area.value || "{}");
          if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
            return { value: {}, errors: ["configuration: must be a JSON object"] };
          }
          return { value: /** @type {Record<string, unknown>} */ (parsed), errors: [] };
        } catch (err) {
          return {
            value: {},
            errors: [`configuration: invalid JSON (${/** @type {Error} */ (err).message})`],
          };
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
    /** @type {HTMLSelectElement | HTMLInputElement | HTMLTextAreaElement} */
    let input;
    /** @type {() => FieldValue} */
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
      const box = h("input", { ...common, type: "checkbox", checked: initial === true });
      const field = h(
        "div",
        { class: "field" },
        h("label", { class: "check", for: id }, box, labelText),
        hint,
      );
      container.append(field);
      readers.push([key, () => ({ value: box.checked })]);
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
          return { error: `${key}: invalid JSON (${/** @type {Error} */ (err).message})` };
        }
      };
    }
    container.append(h("div", { class: "field" }, label, input, hint));
    readers.push([key, read]);
  }

  return {
    el: container,
    read() {
      /** @type {Record<string, unknown>} */
      const value = {};
      /** @type {string[]} */
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
