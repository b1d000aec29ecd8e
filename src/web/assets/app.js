// Call Assistant dashboard: plain JavaScript, no build step, no framework; native ES
// modules served from the same origin. It talks only to the JSON gateway on its own origin
// (`/v1/...`): polls the lists every few seconds and follows logs and events with
// EventSource, so it recovers by itself when the orchestrator restarts. Every API error is
// shown to the user with the server's message. This entry wires the views to the routes.

import { startStatus } from "./status.js";
import { modulesView } from "./modules.js";
import { moduleDetailView } from "./module_detail.js";
import { entitiesView } from "./entities.js";
import { flowsView } from "./flows.js";
import { eventsView, startEvents } from "./events.js";
import { overviewView } from "./overview.js";

const ROUTES = [
  [/^#\/overview$/, overviewView, "overview"],
  [/^#\/modules\/([^/]+)$/, (m) => moduleDetailView(decodeURIComponent(m[1])), "modules"],
  [/^#\/entities$/, entitiesView, "entities"],
  [/^#\/flows$/, flowsView, "flows"],
  [/^#\/events$/, eventsView, "events"],
  [/^(#\/?(modules)?)?$/, modulesView, "modules"],
];

let currentView;

function route(focus) {
  const hash = location.hash;
  const found = ROUTES.find(([re]) => re.test(hash));
  if (!found) return; // Not a view (e.g. an in-page anchor): keep the current one.
  const [re, make, nav] = found;
  currentView?.unmount();
  currentView = make(hash.match(re));
  const main = document.getElementById("main");
  main.replaceChildren(currentView.el);
  document.title = `${currentView.title} · Call Assistant`;
  for (const a of document.querySelectorAll("[data-nav]")) {
    if (a.dataset.nav === nav) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  if (focus) main.querySelector("h1")?.focus();
}

function init() {
  document.getElementById("skip").addEventListener("click", (e) => {
    e.preventDefault();
    document.getElementById("main").focus();
  });
  startStatus();
  startEvents();
  addEventListener("hashchange", () => route(true));
  route(false);
}

init();
