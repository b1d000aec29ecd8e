/**
 * The dashboard behind the bearer token, in headless Chromium: the API answers 401, the page
 * shows the "Enter the access token" form, a wrong token is refused, the right one signs in
 * (session cookie) and the page loads its data, event stream included.
 */
import assert from "node:assert/strict";
import {
  addCamera,
  startOrchestrator,
  type TestOrchestrator,
} from "../helpers/test_orchestrator.ts";
import { launchBrowser, type TestBrowser, waitForText } from "../web/browser.ts";

Deno.test("security: the dashboard asks for the access token on 401 and signs in", async () => {
  const modules = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  const data = await Deno.makeTempDir({ prefix: "ca-test-data-" });
  await addCamera(modules);
  let orch: TestOrchestrator | undefined;
  let browser: TestBrowser | undefined;
  try {
    [orch, browser] = await Promise.all([
      startOrchestrator({ modules, data, args: ["--http", "0.0.0.0:0"] }),
      launchBrowser(),
    ]);
    const token = Deno.readTextFileSync(`${data}/auth-token`).trim();
    const page = browser.page;
    await page.goto(`${orch.url}/`);
    const form = page.locator("form#auth");
    await form.waitFor({ state: "visible" });
    await waitForText(page, "#auth-title", "Enter the access token");
    const input = page.getByLabel("Access token", { exact: true });
    assert.equal(await input.getAttribute("type"), "password");

    await input.fill("wrong");
    await page.locator("form#auth button[type=submit]").click();
    await waitForText(page, "#auth-error", "That token is wrong.");

    await input.fill(token);
    await Promise.all([
      page.waitForEvent("load"),
      page.locator("form#auth button[type=submit]").click(),
    ]);
    await page.locator('tr[data-key="test-camera"]').waitFor({ state: "visible" });
    assert.equal(await page.locator("form#auth").count(), 0);
    // The event stream (EventSource, cookie only) works after signing in.
    await page.goto(`${orch.url}/#/events`);
    await page.locator("main h1").waitFor();
    const sse = await page.evaluate(async () => {
      const res = await fetch("/v1/events?afterId=0", {
        headers: { accept: "text/event-stream" },
      });
      await res.body?.cancel();
      return res.status;
    });
    assert.equal(sse, 200);
    const cookies = await browser.context.cookies();
    const session = cookies.find((c) => c.name === "ca_session");
    assert.ok(session?.httpOnly, "HttpOnly session cookie");
    assert.equal(session?.sameSite, "Strict");
    const unexpected = browser.errors.filter((e) =>
      !/the server responded with a status of 401\b/.test(e)
    );
    assert.deepEqual(unexpected, []);
  } finally {
    await browser?.close();
    await orch?.stop();
    await Deno.remove(modules, { recursive: true });
    await Deno.remove(data, { recursive: true });
  }
});
