/**
 * The dashboard end to end: the real orchestrator with real modules, driven through
 * headless Chromium. Modules (state, pid, restart), module details with the live log and
 * the configuration form rendered from the schema (server messages shown verbatim, secrets
 * masked), entities, flows, events; and a page that keeps working across an orchestrator
 * restart and says "events unavailable" when the event stream fails.
 *
 * Set CA_SCREENSHOTS=/some/dir to keep screenshots of the views.
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { EXAMPLE_PROGRAMS } from "../flows/flow_helpers.ts";
import {
  addCamera,
  addModule,
  listModules,
  ROOT,
  startOrchestrator,
  type TestOrchestrator,
  waitFor,
  waitForState,
} from "../helpers/test_orchestrator.ts";
import {
  type BrowserWindow,
  foreignRequests,
  launchBrowser,
  type TestBrowser,
  textOf,
  waitForText,
} from "./browser.ts";

const CAMERA_ROW = 'tr[data-key="test-camera"]';

/** Adds an example module or simulator by its absolute path (it runs from the temp dir). */
function addExample(
  dir: string,
  name: keyof typeof EXAMPLE_PROGRAMS,
  extra = "",
): Promise<string> {
  return addModule(
    dir,
    name,
    `command: ["deno", "run", "--allow-all", "${ROOT}${EXAMPLE_PROGRAMS[name]}"]\n${extra}`,
  );
}

/** Console errors other than the HTTP statuses the test provoked on purpose. */
function unexpectedErrors(errors: readonly string[], allowedStatuses: number[]): string[] {
  const allowed = new RegExp(
    `Failed to load resource: the server responded with a status of (${
      allowedStatuses.join("|")
    })\\b`,
  );
  return errors.filter((e) => !allowed.test(e));
}

async function putConfig(url: string, name: string, body: unknown) {
  const res = await fetch(`${url}/v1/modules/${name}/config`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

/** The state a module's row shows, and its pid cell. */
function cameraRow(page: Page) {
  return page.evaluate((row) => {
    const doc = (globalThis as unknown as BrowserWindow).document;
    const state = doc.querySelector(`${row} .col-state .badge`) as unknown as {
      dataset: { state?: string };
    } | null;
    return {
      state: state?.dataset.state ?? "",
      pid: doc.querySelector(`${row} .col-pid`)?.textContent?.trim() ?? "",
    };
  }, CAMERA_ROW);
}

Deno.test("dashboard: modules, restart, live log, configuration form, entities, flows, events", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  await addCamera(dir);
  // Two instances: the flows below span them, and the module page lists the other one.
  await addExample(dir, "media-converter", "replicas: 2\n");
  await addExample(dir, "matrix-call");
  await addModule(
    dir,
    "conf",
    `command: ["deno", "run", "--allow-all", "${ROOT}tests/fixtures/configurable.ts"]\n`,
  );
  let orch: TestOrchestrator | undefined;
  let browser: TestBrowser | undefined;
  try {
    [orch, browser] = await Promise.all([startOrchestrator({ modules: dir }), launchBrowser()]);
    const { url } = orch;
    const { page } = browser;
    await page.goto(`${url}/`);

    await t.step("the modules table shows the camera READY with its pid", async () => {
      const camera = await waitForState(url, "test-camera", "READY");
      await page.waitForFunction(
        ([row, pid]) => {
          const doc = (globalThis as unknown as BrowserWindow).document;
          return doc.querySelector(`${row} .col-pid`)?.textContent?.trim() === pid &&
            doc.querySelector(`${row} .col-state .badge[data-state="READY"]`) !== null;
        },
        [CAMERA_ROW, String(camera.pid)] as const,
      );
      assert.equal(await textOf(page, `${CAMERA_ROW} .col-state`), "READY");
      await waitForState(url, "conf", "WAITING_FOR_CONFIG");
      await waitForText(page, 'tr[data-key="conf"] .col-state .badge', "WAITING FOR CONFIG");
      await browser!.screenshot(page, "modules");
    });

    await t.step("Restart changes the pid", async () => {
      const before = await cameraRow(page);
      await page.getByRole("button", { name: "Restart test-camera" }).click();
      await page.waitForFunction(
        ([row, old]) => {
          const doc = (globalThis as unknown as BrowserWindow).document;
          const pid = doc.querySelector(`${row} .col-pid`)?.textContent?.trim();
          return pid !== old && pid !== "—" &&
            doc.querySelector(`${row} .col-state .badge[data-state="READY"]`) !== null;
        },
        [CAMERA_ROW, before.pid] as const,
      );
      const after = await cameraRow(page);
      const camera = (await listModules(url))["test-camera"];
      assert.notEqual(after.pid, before.pid);
      assert.equal(after.pid, String(camera.pid), "the page shows the pid the API has");
      assert.match(await textOf(page, ".notice"), /test-camera restarted/);
    });

    await t.step("Stop asks first; Start brings the module back", async () => {
      const row = page.locator(CAMERA_ROW);
      await page.getByRole("button", { name: "Stop test-camera" }).click();
      const dialog = page.locator("dialog[open]");
      await dialog.getByText("Stop test-camera?").waitFor();
      await dialog.getByRole("button", { name: "Cancel" }).click();
      await dialog.waitFor({ state: "detached" });
      assert.equal(await textOf(page, `${CAMERA_ROW} .col-state`), "READY", "cancel keeps it");
      await page.getByRole("button", { name: "Stop test-camera" }).click();
      await dialog.getByRole("button", { name: "Stop module" }).click();
      await row.locator('.col-state .badge[data-state="STOPPED"]').waitFor();
      await waitForText(page, `${CAMERA_ROW} .col-pid`, "—");
      await page.getByRole("button", { name: "Start test-camera", exact: true }).click();
      await row.locator('.col-state .badge[data-state="READY"]').waitFor();
    });

    await t.step("the module page follows the live log", async () => {
      await page.getByRole("link", { name: "test-camera", exact: true }).click();
      // The SDK writes "INFO listening on ..." to standard error: painted as INFO, not an error.
      const listening = page.locator("#module-log li", { hasText: "listening on 127.0.0.1:" })
        .first();
      await listening.waitFor();
      assert.equal(await listening.getAttribute("class"), "lvl-info");
      assert.equal(await listening.locator(".level").textContent(), "INFO");
      await waitForText(page, "#log-status", "live");
      // A line written now arrives through the open stream.
      const res = await fetch(`${url}/v1/entities`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ entityType: "video_source", name: "Porch", id: "porch" }),
      });
      assert.equal(res.status, 200, await res.text());
      await page.locator("#module-log li", { hasText: "entity_id=porch" }).waitFor();
      await page.locator("text=video_source").first().waitFor();
      await browser!.screenshot(page, "module-camera");
    });

    await t.step("a module with replicas lists its other instance", async () => {
      const converter = await waitFor(
        async () => {
          const m = (await listModules(url))["media-converter"] as {
            replicas?: { state: string; pid: number }[];
          };
          const other = m.replicas?.[0];
          return other?.state === "MODULE_STATE_READY" ? other : undefined;
        },
        30_000,
        "the converter's second instance READY",
      );
      await page.goto(`${url}/#/modules/media-converter`);
      await page.locator("dt", { hasText: "Other instances" }).waitFor();
      await page.locator("dd", { hasText: `#1 READY (pid ${converter.pid})` }).waitFor();
    });

    await t.step("the configuration form: schema fields, server errors, secrets", async () => {
      await page.goto(`${url}/#/modules/conf`);
      await page.locator('#module-state[data-state="WAITING_FOR_CONFIG"]').waitFor();
      const host = page.locator("#cfg-host");
      const port = page.locator("#cfg-port");
      const password = page.locator("#cfg-password");
      await host.waitFor();
      assert.equal(await host.getAttribute("type"), "text");
      assert.equal(await host.getAttribute("aria-required"), "true");
      assert.equal(await page.locator('label[for="cfg-host"] .req').count(), 1, "required mark");
      assert.equal(await port.getAttribute("type"), "number");
      assert.equal(await password.getAttribute("type"), "password");

      // An invalid value: the server's message, verbatim.
      const invalid = { host: "cam.local", port: 70000, password: "s3cret" };
      const expected = await putConfig(url, "conf", { config: invalid, expectedRevision: "0" });
      assert.equal(expected.status, 400);
      await host.fill("cam.local");
      await port.fill("70000");
      await password.fill("s3cret");
      await page.getByRole("button", { name: "Save configuration" }).click();
      await waitForText(page, "#config-message .server-message", expected.body.message);
      await browser!.screenshot(page, "module-conf-error");

      // A valid one: saved, READY, and the secret comes back masked.
      await port.fill("554");
      await page.getByRole("button", { name: "Save configuration" }).click();
      await waitForText(page, "#config-message", "Saved revision 1.");
      assert.equal(await page.locator("#cfg-password").inputValue(), "********");
      assert.equal(await page.locator("#cfg-host").inputValue(), "cam.local");
      await page.locator('#module-state[data-state="READY"]').waitFor();
      const stored = await (await fetch(`${url}/v1/modules/conf/config`)).json();
      assert.equal(stored.current.revision, "1");
      assert.equal(stored.current.updatedBy, "dashboard");
      assert.deepEqual(stored.current.config, {
        host: "cam.local",
        port: 554,
        password: "********",
      });
      assert.ok(!(await page.content()).includes("s3cret"), "the secret is not in the page");
      await browser!.screenshot(page, "module-conf-saved");

      // Someone else saves meanwhile: the form's revision is stale, the 409 is shown as is.
      const other = await putConfig(url, "conf", {
        config: { host: "other.local", password: "********" },
        expectedRevision: "1",
      });
      assert.equal(other.status, 200);
      const stale = await putConfig(url, "conf", {
        config: { host: "x" },
        expectedRevision: "1",
      });
      assert.equal(stale.status, 409);
      await host.fill("mine.local");
      await page.getByRole("button", { name: "Save configuration" }).click();
      await waitForText(page, "#config-message .server-message", stale.body.message);
      await page.getByRole("button", { name: "Reload" }).click();
      await page.locator("#config-revision", { hasText: "Revision 2, saved" }).waitFor();
      assert.equal(await page.locator("#cfg-host").inputValue(), "other.local");
      assert.equal(await page.locator("#cfg-password").inputValue(), "********");
    });

    await t.step("entities: create from the type picker, errors shown, delete", async () => {
      await page.goto(`${url}/#/entities`);
      await page.locator('#create-type option[value="video_source"]').waitFor({
        state: "attached",
      });
      await page.selectOption("#create-type", "video_source");
      await page.locator("#ent-fps").waitFor();
      await page.fill("#create-name", "Front door");
      await page.fill("#ent-fps", "25");
      await page.getByRole("button", { name: "Create entity" }).click();
      await waitForText(page, "#entity-create-message", "Created entity front-door (READY).");
      await page.locator('tr[data-key="front-door"]').waitFor();

      // The server's rejection (here the type's schema: room_id is required) is shown as it is.
      await page.selectOption("#create-type", "matrix_room_call");
      await page.locator("#ent-room_id").waitFor();
      await page.fill("#create-name", "Family");
      await page.getByRole("button", { name: "Create entity" }).click();
      const rejected = page.locator("#entity-create-message .server-message");
      await rejected.waitFor();
      assert.match(
        (await rejected.textContent()) ?? "",
        /invalid configuration for entity type "matrix_room_call" .*: room_id: is required/,
      );
      await page.fill("#ent-room_id", "!family:example.org");
      await page.getByRole("button", { name: "Create entity" }).click();
      await waitForText(page, "#entity-create-message", "Created entity family (READY).");

      // Filters, then deleting with confirmation.
      await page.selectOption("#filter-kind", "ENTITY_KIND_ENDPOINT");
      await page.locator('tr[data-key="front-door"]').waitFor({ state: "detached" });
      await page.locator('tr[data-key="family"]').waitFor();
      await page.selectOption("#filter-kind", "");
      await page.getByRole("button", { name: "Delete Porch" }).click();
      await page.getByRole("button", { name: "Delete entity" }).click();
      await page.locator('tr[data-key="porch"]').waitFor({ state: "detached" });
      await browser!.screenshot(page, "entities");
    });

    await t.step("flows: preview, create, stop, delete", async () => {
      await page.goto(`${url}/#/flows`);
      await page.locator('#flow-source option[value="front-door"]').waitFor({ state: "attached" });
      await page.locator('#flow-target option[value="family"]').waitFor({ state: "attached" });
      await page.selectOption("#flow-source", "front-door");
      await page.selectOption("#flow-target", "family");
      await page.getByRole("button", { name: "Preview path" }).click();
      await page.locator("#flow-preview .hop", { hasText: "rtsp_to_webrtc" }).first().waitFor();
      await page.getByRole("button", { name: "Create flow" }).click();
      const row = page.locator('tr[data-key="front-door-to-family"]');
      await row.locator('.col-state .badge[data-state="ACTIVE"]').waitFor();
      assert.ok((await row.locator(".col-path .hop").count()) >= 5, "video and audio hops");
      await browser!.screenshot(page, "flows");
      await page.getByRole("button", { name: "Stop flow front-door-to-family" }).click();
      await row.locator('.col-state .badge[data-state="STOPPED"]').waitFor();
      await page.getByRole("button", { name: "Delete flow front-door-to-family" }).click();
      await page.locator("dialog[open]").getByRole("button", { name: "Delete flow" }).click();
      await row.waitFor({ state: "detached" });
    });

    await t.step("events: live, newest on top", async () => {
      await page.goto(`${url}/#/events`);
      await waitForText(page, "#events-status", "live · showing the latest 300 at most");
      await page.locator("#events-list li", { hasText: "flow.deleted" }).first().waitFor();
      const ids = await page.locator("#events-list li[data-id]").evaluateAll((items) =>
        items.map((li) => Number((li as unknown as { dataset: { id: string } }).dataset.id))
      );
      assert.ok(ids.length > 5, `${ids.length} events`);
      assert.deepEqual(ids, [...ids].sort((a, b) => b - a), "newest first");
      await browser!.screenshot(page, "events");
    });

    await t.step("phone-size screen", async () => {
      await page.setViewportSize({ width: 390, height: 844 });
      await page.goto(`${url}/#/modules`);
      await page.locator(`${CAMERA_ROW} .col-state .badge[data-state="READY"]`).waitFor();
      const overflow = await page.evaluate(() => {
        const doc = (globalThis as unknown as {
          document: { documentElement: { scrollWidth: number; clientWidth: number } };
        }).document;
        return doc.documentElement.scrollWidth - doc.documentElement.clientWidth;
      });
      assert.ok(overflow <= 0, `no horizontal scrolling (${overflow}px too wide)`);
      await browser!.screenshot(page, "phone-modules", false);
    });

    await t.step("no console errors, no requests beyond the orchestrator", () => {
      // Provoked on purpose: invalid configuration and rejected entity (400), stale revision (409).
      assert.deepEqual(unexpectedErrors(browser!.errors, [400, 409]), []);
      assert.deepEqual(foreignRequests(browser!.requests, url), []);
    });
  } finally {
    await browser?.close();
    await orch?.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("dashboard: keeps working across an orchestrator restart; events unavailable", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  const data = await Deno.makeTempDir({ prefix: "ca-test-data-" });
  await addCamera(dir);
  let orch: TestOrchestrator | undefined;
  let browser: TestBrowser | undefined;
  try {
    [orch, browser] = await Promise.all([
      startOrchestrator({ modules: dir, data }),
      launchBrowser(),
    ]);
    const { url } = orch;
    const { page } = browser;
    await page.goto(`${url}/`);
    const first = await waitForState(url, "test-camera", "READY");
    await waitForText(page, `${CAMERA_ROW} .col-pid`, String(first.pid));

    await t.step("the orchestrator goes away: the page says so", async () => {
      await orch!.stop();
      await page.locator("#conn", { hasText: "Cannot reach the orchestrator" }).waitFor();
      await browser!.screenshot(page, "offline", false);
    });

    await t.step("it comes back on the same address: the page recovers by itself", async () => {
      orch = await startOrchestrator({ modules: dir, data, args: ["--http", new URL(url).host] });
      assert.equal(orch.url, url);
      const camera = await waitForState(url, "test-camera", "READY");
      assert.notEqual(camera.pid, first.pid);
      await waitForText(page, `${CAMERA_ROW} .col-pid`, String(camera.pid));
      await page.locator("#conn").waitFor({ state: "hidden" });
      await waitForText(page, "#ready-badge", "Ready");
    });

    await t.step("a failing event stream shows 'events unavailable'", async () => {
      const other = await browser!.newPage();
      await other.route("**/v1/events*", (route) =>
        route.fulfill({
          status: 501,
          contentType: "application/json",
          body: JSON.stringify({
            code: 12,
            message: "callassistant.v1.ControlService/WatchEvents is not implemented yet",
            details: [],
          }),
        }));
      await other.goto(`${url}/#/events`);
      await other.locator("#events-status", {
        hasText:
          "Events unavailable: callassistant.v1.ControlService/WatchEvents is not implemented yet",
      }).waitFor();
      // The rest of the page still works.
      await other.getByRole("link", { name: "Modules" }).click();
      await other.locator(`${CAMERA_ROW} .col-state .badge[data-state="READY"]`).waitFor();
      await other.close();
    });

    await t.step("no console errors but the provoked ones, no foreign requests", () => {
      // Streams cut and connections refused while it was down, and the provoked 501.
      const errors = unexpectedErrors(browser!.errors, [501]).filter((e) =>
        !/net::(ERR_CONNECTION_REFUSED|ERR_INCOMPLETE_CHUNKED_ENCODING)/.test(e)
      );
      assert.deepEqual(errors, []);
      assert.deepEqual(foreignRequests(browser!.requests, url), []);
    });
  } finally {
    await browser?.close();
    await orch?.stop();
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(data, { recursive: true });
  }
});
