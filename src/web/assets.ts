/**
 * The dashboard's files, embedded in the module graph with text imports, so `deno compile`
 * bundles them and nothing is read from disk at run time. Edit the files in `assets/`.
 */
import INDEX_HTML from "./assets/index.html" with { type: "text" };
import APP_JS from "./assets/app.js" with { type: "text" };
import APP_CSS from "./assets/app.css" with { type: "text" };
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

/** Every dashboard file by URL path: the page at `/`, the rest under `/ui/`. */
export const ASSETS: ReadonlyMap<string, Asset> = new Map(
  [
    { path: "/", contentType: "text/html; charset=utf-8", body: INDEX_HTML },
    { path: "/ui/app.js", contentType: "text/javascript; charset=utf-8", body: APP_JS },
    { path: "/ui/app.css", contentType: "text/css; charset=utf-8", body: APP_CSS },
    { path: "/ui/icon.svg", contentType: "image/svg+xml; charset=utf-8", body: ICON_SVG },
  ].map((asset) => [asset.path, asset]),
);
