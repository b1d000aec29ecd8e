// Messages to the user: dismissable notices, load and form errors, and the modal
// confirmation dialog of the page.

import { h, setText } from "./dom.js";

/** An element of index.html by id. @param {string} id */
function byId(id) {
  return /** @type {HTMLElement} */ (document.getElementById(id));
}

/** A dismissable message area: `show(text, tone)` with tone ok, error, busy or info. */
export function noticeBox() {
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
    /** @param {string} message @param {string} [tone] */
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
/**
 * @param {HTMLElement} el
 * @param {HTMLElement | null | undefined} container
 * @param {string} what
 * @param {unknown} err an ApiError (status 0: unreachable), another error, or none
 */
export function showLoadError(el, container, what, err) {
  container?.classList.toggle("stale", Boolean(err));
  const e = /** @type {{ status?: number, message?: string } | undefined} */ (err);
  if (!e || e.status === 0) {
    el.hidden = true;
    return;
  }
  setText(el, `Could not load ${what}: ${e.message ?? String(err)}`);
  el.hidden = false;
}

/** Shows a form result; an error shows the server's message verbatim. */
/** @param {HTMLElement} el @param {string} tone @param {string} text @param {string} [extra] */
export function showFormMessage(el, tone, text, extra) {
  el.className = `form-message ${tone}`;
  el.setAttribute("role", tone === "error" ? "alert" : "status");
  el.replaceChildren(
    ...(tone === "error" ? [h("span", { class: "server-message" }, text)] : [text]),
    extra ? h("div", { class: "small" }, extra) : "",
  );
}

/**
 * Asks for confirmation in a modal dialog. Resolves to {confirmed, checked}; `option` adds
 * a checkbox with that label.
 * @param {{ title: string, message: string, confirmLabel?: string, option?: string }} ask
 * @returns {Promise<{ confirmed: boolean, checked: boolean }>}
 */
export function confirmDialog({ title, message, confirmLabel = "OK", option }) {
  const dialog = /** @type {HTMLDialogElement} */ (byId("confirm"));
  setText(byId("confirm-title"), title);
  setText(byId("confirm-message"), message);
  setText(byId("confirm-ok"), confirmLabel);
  const optionLabel = byId("confirm-option");
  const check = /** @type {HTMLInputElement} */ (byId("confirm-check"));
  optionLabel.hidden = !option;
  check.checked = false;
  setText(byId("confirm-check-label"), option ?? "");
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      resolve({ confirmed: dialog.returnValue === "ok", checked: check.checked });
    }, { once: true });
    dialog.showModal();
  });
}
