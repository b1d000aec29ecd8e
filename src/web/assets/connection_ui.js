// The page's side of the connection: the banner shown while the orchestrator cannot be
// reached, and the access token form shown when the API answers 401. `showConnection()`
// hooks them to the fetch client (api.js).

import { apiHooks } from "./api.js";
import { h, setText } from "./dom.js";
import { urls } from "./protocol.js";

/** The banner element of index.html. */
function bannerElement() {
  return /** @type {HTMLElement} */ (document.getElementById("conn"));
}

/** An error's message, or the thrown value as text. @param {unknown} err */
function messageOf(err) {
  return err instanceof Error ? err.message : String(err);
}

/** The banner saying the orchestrator cannot be reached; hidden again on the next answer. */
export const connection = {
  down: false,
  /** Told when the orchestrator answers again. @type {Set<() => void>} */
  listeners: new Set(),
  /** Told (with the error message) when a request could not reach it. @type {Set<(message: string) => void>} */
  lostListeners: new Set(),
  /** Shows the banner. @param {unknown} err */
  lost(err) {
    const banner = bannerElement();
    banner.hidden = false;
    setText(
      banner,
      `Cannot reach the orchestrator (${messageOf(err)}). Retrying every few seconds…`,
    );
    this.down = true;
    for (const fn of this.lostListeners) fn(messageOf(err));
  },
  /** Hides the banner (the orchestrator answered). */
  ok() {
    if (!this.down) return;
    this.down = false;
    bannerElement().hidden = true;
    for (const fn of this.listeners) fn();
  },
};

/**
 * The "Enter the access token" form, shown under the header when the API answers 401 (the
 * orchestrator listens beyond loopback and requires its bearer token). Signing in posts the
 * token to `POST /v1/session`, which sets an HttpOnly session cookie (so EventSource streams
 * work too), then reloads the page.
 */
export const signIn = {
  /** @type {HTMLFormElement | undefined} */
  form: undefined,
  /** Shows the form (made on first use). */
  required() {
    if (this.form) {
      this.form.hidden = false;
      return;
    }
    const input = h("input", {
      id: "auth-token",
      type: "password",
      name: "token",
      autocomplete: "current-password",
      required: true,
      spellcheck: "false",
    });
    const error = h("p", { class: "auth-error", id: "auth-error", role: "alert" });
    const submit = h("button", { type: "submit", class: "btn primary" }, "Sign in");
    const form = /** @type {HTMLFormElement} */ (h(
      "form",
      { class: "auth", id: "auth", "aria-labelledby": "auth-title" },
      h("h2", { id: "auth-title" }, "Enter the access token"),
      h(
        "p",
        { class: "muted" },
        "This orchestrator requires its access token: the file auth-token in its data directory.",
      ),
      h(
        "div",
        { class: "auth-row" },
        h("label", { for: "auth-token" }, "Access token"),
        input,
        submit,
      ),
      error,
    ));
    this.form = form;
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      submit.disabled = true;
      setText(error, "");
      try {
        const res = await fetch(urls.session(), {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ token: input.value.trim() }),
          cache: "no-store",
        });
        if (res.ok) {
          location.reload();
          return;
        }
        const json = await res.json().catch(() => ({}));
        setText(
          error,
          res.status === 401
            ? "That token is wrong."
            : json.message ?? `HTTP ${res.status} ${res.statusText}`,
        );
      } catch (err) {
        setText(error, `cannot reach the orchestrator (${messageOf(err)})`);
      } finally {
        submit.disabled = false;
      }
      input.focus();
    });
    bannerElement().after(form);
    input.focus();
  },
};

/** Shows the banner and the sign-in form when the fetch client needs them. */
export function showConnection() {
  apiHooks.lost = (err) => connection.lost(err);
  apiHooks.reached = () => connection.ok();
  apiHooks.unauthorized = () => signIn.required();
}
