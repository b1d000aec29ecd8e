// Element helpers for the dashboard: building elements, updating text and tables in
// place (so focus and selections survive a refresh), and select fields.

/**
 * Creates an element. `props`: `class`, `text`, `dataset`, `on<event>` handlers, the
 * properties `value`, `checked`, `disabled`, `hidden`, `selected`, and other attributes.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, any> | null} [props]
 * @param {...unknown} children nodes, text, or (nested) lists of them; null and false skipped
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (["value", "checked", "disabled", "hidden", "selected"].includes(key)) {
      /** @type {Record<string, unknown>} */ (/** @type {unknown} */ (el))[key] = value;
    } else if (value !== false) el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

/** @param {HTMLElement} el @param {unknown[]} children */
function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Sets text only when it changed (keeps selections and avoids layout work). */
/** @param {Element} el @param {unknown} text */
export function setText(el, text) {
  const value = String(text ?? "");
  if (el.textContent !== value) el.textContent = value;
}

/**
 * Sets text with its http(s) URLs as links that open in a new tab (a screen's page in
 * an entity's status), only when the text changed.
 */
/** @param {HTMLElement} el @param {unknown} text */
export function setTextWithLinks(el, text) {
  const value = String(text ?? "");
  if (el.dataset.text === value) return;
  el.dataset.text = value;
  const parts = value.split(/(https?:\/\/[^\s;)·,]+)/);
  el.replaceChildren(
    ...parts.filter(Boolean).map((part) =>
      /^https?:\/\//.test(part)
        ? h("a", { href: part, target: "_blank", rel: "noopener", text: part })
        : document.createTextNode(part)
    ),
  );
}

/** Renders `data` into `el` with `render` only when it differs from the last rendering. */
/**
 * @template T
 * @param {HTMLElement} el
 * @param {T} data
 * @param {(data: T) => unknown} render returns a node or a list of nodes
 */
export function renderIfChanged(el, data, render) {
  const json = JSON.stringify(data ?? null);
  if (el.dataset.rendered === json) return;
  el.dataset.rendered = json;
  el.replaceChildren(.../** @type {Node[]} */ ([render(data)].flat().filter(Boolean)));
}

/**
 * Updates `tbody` to one row per item, in order, reusing rows by key so buttons keep
 * their focus and state: `create(item)` builds a row, `update(row, item)` refreshes it.
 * A row is any element (the overview's flow cards are articles in a div); what `create`
 * adds to it (its buttons, charts) is typed by `R`.
 */
/**
 * @template T
 * @template {HTMLElement} [R=HTMLTableRowElement]
 * @param {HTMLElement} tbody the rows' parent
 * @param {T[]} items
 * @param {(item: T) => string} key
 * @param {(item: T) => R} create
 * @param {(row: R, item: T) => void} update
 */
export function keyedRows(tbody, items, key, create, update) {
  const rows = new Map(
    [.../** @type {HTMLCollectionOf<R>} */ (/** @type {unknown} */ (tbody.children))].map((
      tr,
    ) => [tr.dataset.key, tr]),
  );
  /** @type {R | null} */
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
    /** @type {ChildNode | null} */
    const expected = previous ? previous.nextSibling : tbody.firstChild;
    if (tr !== expected) tbody.insertBefore(tr, expected);
    previous = tr;
  }
  for (const tr of rows.values()) tr.remove();
}

/** A table cell with the label phones show beside it. */
/** @param {string} label @param {string} cls @param {...unknown} children */
export function td(label, cls, ...children) {
  return h("td", { "data-label": label, class: cls }, h("div", { class: "cell" }, ...children));
}

/** The content element of a row's cell made by td(). */
/** @param {HTMLElement} tr @param {string} col @returns {HTMLElement} */
export function cell(tr, col) {
  return /** @type {HTMLElement} */ (tr.querySelector(`.${col} > .cell`));
}

/** The element under `root` that `selector` names: a part its maker put there. */
/** @param {ParentNode} root @param {string} selector @returns {HTMLElement} */
export function part(root, selector) {
  return /** @type {HTMLElement} */ (root.querySelector(selector));
}

/** A scrollable data table around `tbody`, with a caption for screen readers. */
/**
 * @param {string} caption
 * @param {string[]} headings
 * @param {HTMLTableSectionElement} tbody
 * @param {string} [cls]
 */
export function table(caption, headings, tbody, cls) {
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

/** An element id not used before on this page. */
/** @param {string} prefix */
export function uniqueId(prefix) {
  uniqueCounter += 1;
  return `${prefix}-${uniqueCounter}`;
}

/** A labelled select of [value, label] options; `all` adds an "any" option first. */
/**
 * @param {string} label
 * @param {string} id
 * @param {[string, string][]} options
 * @param {{ value?: string, all?: string }} [choice] the selected value; `all` its label
 */
export function selectField(label, id, options, { value = "", all } = {}) {
  const select = h(
    "select",
    { id, name: id },
    all ? h("option", { value: "" }, all) : null,
    options.map(([v, text]) => h("option", { value: v, selected: v === value }, text)),
  );
  return { select, el: h("div", { class: "field" }, h("label", { for: id }, label), select) };
}

/** Replaces a select's options, keeping the selected value when it is still offered. */
/**
 * @param {HTMLSelectElement} select
 * @param {[string, string][]} options
 * @param {string} [placeholder]
 */
export function setOptions(select, options, placeholder) {
  const json = JSON.stringify([options, placeholder]);
  if (select.dataset.options === json) return;
  select.dataset.options = json;
  const value = select.value;
  select.replaceChildren(
    ...(placeholder !== undefined ? [h("option", { value: "" }, placeholder)] : []),
    ...options.map(([v, text]) => h("option", { value: v }, text)),
  );
  if ([...select.options].some((o) => o.value === value)) select.value = value;
}
