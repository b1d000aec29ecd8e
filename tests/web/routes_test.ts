/**
 * The dashboard routes without a browser: content types, the Content-Security-Policy,
 * ETag revalidation, HEAD, the gateway still answering its own routes, and assets that
 * reference nothing outside this origin, and the ES module graph of the scripts.
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { ASSETS } from "../../src/web/assets.ts";
import { CONTENT_SECURITY_POLICY, dashboardRoutes } from "../../src/web/routes.ts";
import { createGateway } from "../../src/gateway/app.ts";

function app(): Hono {
  const a = new Hono();
  dashboardRoutes(a);
  return a;
}

Deno.test("web routes: the page and its files with their content types and a strict CSP", async () => {
  const a = app();
  const types: Record<string, string> = {
    html: "text/html; charset=utf-8",
    js: "text/javascript; charset=utf-8",
    css: "text/css; charset=utf-8",
    svg: "image/svg+xml; charset=utf-8",
  };
  for (const path of ["/", "/ui/app.js", "/ui/app.css", "/ui/icon.svg"]) {
    assert.ok(ASSETS.has(path), path);
  }
  // Every served file, by its extension (the page at "/" is HTML).
  for (const path of ASSETS.keys()) {
    const type = types[path === "/" ? "html" : path.split(".").pop()!];
    assert.ok(type, `a known extension: ${path}`);
    const res = await a.request(path);
    assert.equal(res.status, 200, path);
    assert.equal(res.headers.get("content-type"), type, path);
    assert.equal(res.headers.get("content-security-policy"), CONTENT_SECURITY_POLICY, path);
    assert.equal(res.headers.get("x-content-type-options"), "nosniff", path);
    assert.equal(await res.text(), ASSETS.get(path)!.body, path);
  }
  // Self only: no inline code, no other origin, no framing.
  for (
    const directive of [
      "default-src 'none'",
      "script-src 'self'",
      "style-src 'self'",
      "connect-src 'self'",
      "frame-ancestors 'none'",
    ]
  ) {
    assert.ok(CONTENT_SECURITY_POLICY.includes(directive), directive);
  }
  assert.ok(!CONTENT_SECURITY_POLICY.includes("unsafe"), "no unsafe-inline or unsafe-eval");
});

Deno.test("web routes: ETag revalidation answers 304; HEAD has the headers", async () => {
  const a = app();
  const first = await a.request("/ui/app.js");
  await first.body?.cancel();
  const etag = first.headers.get("etag");
  assert.ok(etag, "an ETag");
  assert.equal(first.headers.get("cache-control"), "no-cache");
  const again = await a.request("/ui/app.js", { headers: { "if-none-match": etag! } });
  assert.equal(again.status, 304);
  assert.equal(await again.text(), "");
  const other = await a.request("/ui/app.css", { headers: { "if-none-match": etag! } });
  assert.equal(other.status, 200, "another file's ETag does not match");
  await other.body?.cancel();
  const head = await a.request("/", { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get("content-type"), "text/html; charset=utf-8");
  assert.equal(await head.text(), "");
});

Deno.test("web routes: mounted on the gateway beside the API", async () => {
  const gateway = createGateway({ services: [], extraRoutes: dashboardRoutes });
  const page = await gateway.request("/");
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<script type="module" src="\/ui\/app.js"><\/script>/);
  const unknown = await gateway.request("/ui/nope.js");
  assert.equal(unknown.status, 404, "unknown files fall through to the gateway's 404");
  assert.equal((await unknown.json()).code, 5);
  const health = await gateway.request("/healthz");
  assert.equal(health.status, 200);
  await health.body?.cancel();
});

Deno.test("web assets: nothing is loaded from another origin, no inline script or style", () => {
  for (const asset of ASSETS.values()) {
    // The SVG namespace is a name, not a request.
    const text = asset.body.replaceAll("http://www.w3.org/2000/svg", "");
    assert.doesNotMatch(text, /\b(https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}/i, asset.path);
    // A CSS @import (of a url or a string); a script's JSDoc `@import { T } from` loads nothing.
    assert.doesNotMatch(text, /@import\s+(url\(|["'])|url\(\s*["']?(https?:|\/\/)/i, asset.path);
  }
  const html = ASSETS.get("/")!.body;
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/i, "no inline <script>");
  assert.doesNotMatch(html, /<style|\sstyle=|\son[a-z]+=/i, "no inline style or handlers");
  for (const [path, asset] of ASSETS) {
    if (!path.endsWith(".js")) continue;
    assert.doesNotMatch(
      asset.body,
      /\binnerHTML\b|\beval\(|new Function\(/,
      `no HTML or code from strings: ${path}`,
    );
  }
});

Deno.test("web assets: every module app.js imports is served, and every script is imported", () => {
  const scripts = [...ASSETS.keys()].filter((path) => path.endsWith(".js"));
  const reached = new Set<string>();
  const pending = ["/ui/app.js"];
  while (pending.length) {
    const path = pending.pop()!;
    if (reached.has(path)) continue;
    reached.add(path);
    const body = ASSETS.get(path)?.body;
    assert.ok(body !== undefined, `imported but not served: ${path}`);
    for (const [, spec] of body.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+"([^"]+)"/gms)) {
      assert.match(spec, /^\.\/[a-z_]+\.js$/, `a relative import of a served file: ${spec}`);
      pending.push(new URL(spec, `http://dashboard${path}`).pathname);
    }
    assert.doesNotMatch(body, /\bimport\s*\(/, `no dynamic import: ${path}`);
  }
  assert.deepEqual([...reached].sort(), scripts.sort(), "no script left out of the graph");
});
