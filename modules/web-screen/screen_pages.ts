/** The HTML of the web-screen module: a screen's page, the page of an unknown screen,
 * and the list of screens. Every name and id is escaped. */
import type { Screen } from "./screen_table.ts";

/** Text made safe for HTML content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function head(title: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">` +
    `<meta name="viewport" content="width=device-width, initial-scale=1">` +
    `<title>${escapeHtml(title)}</title><link rel="stylesheet" href="/assets/screen.css"></head>`;
}

/** The page that plays a screen's flow. */
export function screenPage(screen: Screen): string {
  const name = escapeHtml(screen.name || screen.id);
  return `${head(screen.name || screen.id)}<body data-screen="${escapeHtml(screen.id)}" ` +
    `data-state="idle" data-info="${screen.showInfo ? "1" : "0"}"><div id="stage"></div>` +
    `<div id="banner"><span class="name">${name}</span><span class="state">waiting for a flow` +
    `</span></div><div id="info"></div>` +
    `<script type="module" src="/assets/screen.js"></script></body></html>`;
}

function links(screens: Screen[]): string {
  if (!screens.length) return "<p>This module has no screens yet.</p>";
  return "<ul>" +
    screens.map((s) =>
      `<li><a href="/screens/${encodeURIComponent(s.id)}">${escapeHtml(s.name || s.id)}</a> ` +
      `<code>${escapeHtml(s.id)}</code></li>`
    ).join("") + "</ul>";
}

/** The page of a screen id the module does not have: says so, lists the real ones, and
 * loads the screen by itself if it appears. */
export function unknownScreenPage(id: string, screens: Screen[]): string {
  return `${head("No such screen")}<body class="list" data-screen="${escapeHtml(id)}">` +
    `<h1>No screen "${escapeHtml(id)}"</h1><p>This web-screen module has no screen with this ` +
    `id. Create one (entity type <code>web_screen</code>) or open one of these:</p>` +
    `${links(screens)}<p>This page loads the screen by itself once it exists.</p>` +
    `<script type="module" src="/assets/unknown.js"></script></body></html>`;
}

/** The list of screens. */
export function screenListPage(screens: Screen[]): string {
  return `${head("Screens")}<body class="list"><h1>Screens</h1>${links(screens)}</body></html>`;
}
