// Call Assistant dashboard: plain JavaScript, no build step, no framework; native ES
// modules served from the same origin. It talks only to the JSON gateway on its own origin
// (`/v1/...`): polls the lists every few seconds and follows logs and events with
// EventSource, so it recovers by itself when the orchestrator restarts. Every API error is
// shown to the user with the server's message. This entry wires the views to the routes.

import { showConnection } from "./connection_ui.js";
import { startStatus } from "./status.js";
import { modulesView } from "./modules.js";
import { moduleDetailView } from "./module_detail.js";
import { entitiesView } from "./entities.js";
import { flowsView } from "./flows.js";
import { eventsView, startEvents } from "./events.js";
import { overviewView } from "./overview.js";

/** A page: its element, its title, and what to stop when leaving it. */
/** @typedef {{ el: HTMLElement, title: string, unmount(): void }} View */

/** Hash routes: the pattern, the view it shows (given the match), the nav link it marks. */
/** @type {[RegExp, (m: RegExpMatchArray) => View, string][]} */
const ROUTES = [
  [/^#\/overview$/, overviewView, "overview"],
  [/^#\/modules\/([^/]+)$/, (m) => moduleDetailView(decodeURIComponent(m[1])), "modules"],
  [/^#\/entities$/, entitiesView, "entities"],
  [/^#\/flows$/, flowsView, "flows"],
  [/^#\/events$/, eventsView, "events"],
  [/^(#\/?(modules)?)?$/, modulesView, "modules"],
];

/** @type {View | undefined} */
let currentView;

/** Shows the view of the current hash. @param {boolean} focus move focus to its heading */
function route(focus) {
  const hash = location.hash;
  const found = ROUTES.find(([re]) => re.test(hash));
  if (!found) return; // Not a view (e.g. an in-page anchor): keep the current one.
  const [re, make, nav] = found;
  currentView?.unmount();
  const view = make(/** @type {RegExpMatchArray} */ (hash.match(re)));
  currentView = view;
  const main = /** @type {HTMLElement} */ (document.getElementById("main"));
  main.replaceChildren(view.el);
  document.title = `${view.title} · Call Assistant`;
  const links = /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll("[data-nav]"));
  for (const a of links) {
    if (a.dataset.nav === nav) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  if (focus) main.querySelector("h1")?.focus();
}

function init() {
  showConnection();
  document.getElementById("skip")?.addEventListener("click", (e) => {
    e.preventDefault();
    document.getElementById("main")?.focus();
  });
  startStatus();
  startEvents();
  addEventListener("hashchange", () => route(true));
  route(false);
}

init();
