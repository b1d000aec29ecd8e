// Messages to the user: dismissable notices, load and form errors, and the modal
// confirmation dialog of the page.

import { h, setText } from "./dom.js";

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
export function showLoadError(el, container, what, err) {
  container?.classList.toggle("stale", Boolean(err));
  if (!err || err.status === 0) {
    el.hidden = true;
    return;
  }
  setText(el, `Could not load ${what}: ${err.message}`);
  el.hidden = false;
}

/** Shows a form result; an error shows the server's message verbatim. */
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
 */
export function confirmDialog({ title, message, confirmLabel = "OK", option }) {
  const dialog = document.getElementById("confirm");
  setText(document.getElementById("confirm-title"), title);
  setText(document.getElementById("confirm-message"), message);
  setText(document.getElementById("confirm-ok"), confirmLabel);
  const optionLabel = document.getElementById("confirm-option");
  const check = document.getElementById("confirm-check");
  optionLabel.hidden = !option;
  check.checked = false;
  setText(document.getElementById("confirm-check-label"), option ?? "");
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      resolve({ confirmed: dialog.returnValue === "ok", checked: check.checked });
    }, { once: true });
    dialog.showModal();
  });
}
