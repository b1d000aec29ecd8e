/**
 * The dashboard paints a module's output by the line's level (the module log convention),
 * never by its stream: normal output on standard error (how SDK modules and Python's
 * logging write) is INFO in the live log, and only lines that say ERROR are red. Real
 * module, real orchestrator, Chromium.
 */
import assert from "node:assert/strict";
import { ROOT, startOrchestrator, type TestOrchestrator } from "../helpers/test_orchestrator.ts";
import { type BrowserWindow, launchBrowser, type TestBrowser } from "./browser.ts";

/** Each line the module writes, its stream, and the class and label the page must show. */
const LINES: [stream: string, line: string, cls: string, label: string][] = [
  ["stderr", "untagged on stderr", "lvl-info", "INFO"],
  ["stderr", "INFO normal output on stderr", "lvl-info", "INFO"],
  ["stderr", "WARN a warning", "lvl-warn", "WARN"],
  ["stdout", "ERROR a failure on stdout", "lvl-error", "ERROR"],
  ["stderr", "ERROR a failure on stderr", "lvl-error", "ERROR"],
  ["stderr", "<4>sd-daemon warning", "lvl-warn", "WARN"],
];

Deno.test("dashboard: module output is painted by its level, not by its stream", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  await Deno.mkdir(`${dir}/levels`);
  await Deno.writeTextFile(
    `${dir}/levels/module.yaml`,
    JSON.stringify({
      name: "levels",
      version: "0.1.0",
      command: ["deno", "run", "--allow-all", `${ROOT}tests/fixtures/log-flood/main.ts`],
      env: { FLOOD: "levels", LEVEL_LINES: JSON.stringify(LINES.map(([s, l]) => [s, l])) },
    }),
  );
  let orch: TestOrchestrator | undefined;
  let browser: TestBrowser | undefined;
  try {
    [orch, browser] = await Promise.all([startOrchestrator({ modules: dir }), launchBrowser()]);
    const { page } = browser;
    await page.goto(`${orch.url}/#/modules/levels`);
    await page.locator("#module-log li", { hasText: "levels done" }).waitFor();
    const shown = await page.evaluate(() => {
      const doc = (globalThis as unknown as BrowserWindow).document as unknown as {
        querySelectorAll(s: string): ArrayLike<{
          className: string;
          textContent: string | null;
          querySelector(s: string): { textContent: string | null } | null;
        }>;
      };
      return Array.from(doc.querySelectorAll("#module-log li")).map((li) => ({
        cls: li.className,
        level: li.querySelector(".level")?.textContent ?? "",
        stream: li.querySelector(".stream")?.textContent ?? "",
        text: li.textContent ?? "",
      }));
    });
    for (const [stream, line, cls, label] of LINES) {
      const li = shown.find((s) => s.text.endsWith(line));
      assert.ok(li, `"${line}" is shown`);
      assert.equal(li.cls, cls, line);
      assert.equal(li.level, label, line);
      assert.equal(li.stream, stream === "stderr" ? "err" : "out", line);
    }
    // The untagged stderr line does not look like the error lines.
    const color = (text: string) =>
      page.locator("#module-log li", { hasText: text }).first().evaluate((el) =>
        (globalThis as unknown as {
          getComputedStyle(e: unknown): { color: string };
        }).getComputedStyle(el).color
      );
    assert.notEqual(await color("untagged on stderr"), await color("ERROR a failure on stderr"));
    assert.deepEqual(browser.errors, []);
  } finally {
    await browser?.close();
    await orch?.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
