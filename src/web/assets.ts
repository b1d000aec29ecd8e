/**
 * The dashboard's files, embedded in the module graph with text imports, so `deno compile`
 * bundles them and nothing is read from disk at run time. Edit the files in `assets/`.
 */
import INDEX_HTML from "./assets/index.html" with { type: "text" };
import APP_JS from "./assets/app.js" with { type: "text" };
import API_JS from "./assets/api.js" with { type: "text" };
import CONNECTION_UI_JS from "./assets/connection_ui.js" with { type: "text" };
import PROTOCOL_JS from "./assets/protocol.js" with { type: "text" };
import DOM_JS from "./assets/dom.js" with { type: "text" };
import FORMAT_JS from "./assets/format.js" with { type: "text" };
import MESSAGES_JS from "./assets/messages.js" with { type: "text" };
import SCHEMA_FORM_JS from "./assets/schema_form.js" with { type: "text" };
import STATUS_JS from "./assets/status.js" with { type: "text" };
import MODULES_JS from "./assets/modules.js" with { type: "text" };
import MODULE_DETAIL_JS from "./assets/module_detail.js" with { type: "text" };
import LOG_VIEWER_JS from "./assets/log_viewer.js" with { type: "text" };
import CONFIG_EDITOR_JS from "./assets/config_editor.js" with { type: "text" };
import ENTITIES_JS from "./assets/entities.js" with { type: "text" };
import FLOWS_JS from "./assets/flows.js" with { type: "text" };
import EVENTS_JS from "./assets/events.js" with { type: "text" };
import OVERVIEW_JS from "./assets/overview.js" with { type: "text" };
import PREVIEW_JS from "./assets/preview.js" with { type: "text" };
import CHARTS_JS from "./assets/charts.js" with { type: "text" };
import HOP_FIGURES_JS from "./assets/hop_figures.js" with { type: "text" };
import APP_CSS from "./assets/app.css" with { type: "text" };
import OVERVIEW_CSS from "./assets/overview.css" with { type: "text" };
import ICON_SVG from "./assets/icon.svg" with { type: "text" };

/** One file the dashboard serves. */
export interface Asset {
  /** The URL path, e.g. "/ui/app.js". */
  readonly path: string;
  /** The Content-Type header. */
  readonly contentType: string;
  /** The file's text. */
  readonly body: string;
}

const JS = "text/javascript; charset=utf-8";

/**
 * Every dashboard file by URL path: the page at `/`, the rest under `/ui/`. `app.js` is the
 * entry; the other scripts are the ES modules it imports (same origin, so `script-src 'self'`).
 */
export const ASSETS: ReadonlyMap<string, Asset> = new Map(
  [
    { path: "/", contentType: "text/html; charset=utf-8", body: INDEX_HTML },
    ...[
      ["app", APP_JS],
      ["api", API_JS],
      ["connection_ui", CONNECTION_UI_JS],
      ["protocol", PROTOCOL_JS],
      ["dom", DOM_JS],
      ["format", FORMAT_JS],
      ["messages", MESSAGES_JS],
      ["schema_form", SCHEMA_FORM_JS],
      ["status", STATUS_JS],
      ["modules", MODULES_JS],
      ["module_detail", MODULE_DETAIL_JS],
      ["log_viewer", LOG_VIEWER_JS],
      ["config_editor", CONFIG_EDITOR_JS],
      ["entities", ENTITIES_JS],
      ["flows", FLOWS_JS],
      ["events", EVENTS_JS],
      ["overview", OVERVIEW_JS],
      ["preview", PREVIEW_JS],
      ["charts", CHARTS_JS],
      ["hop_figures", HOP_FIGURES_JS],
    ].map(([name, body]) => ({ path: `/ui/${name}.js`, contentType: JS, body })),
    { path: "/ui/app.css", contentType: "text/css; charset=utf-8", body: APP_CSS },
    { path: "/ui/overview.css", contentType: "text/css; charset=utf-8", body: OVERVIEW_CSS },
    { path: "/ui/icon.svg", contentType: "image/svg+xml; charset=utf-8", body: ICON_SVG },
  ].map((asset) => [asset.path, asset]),
);
