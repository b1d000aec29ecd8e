/**
 * The configuration service end to end: WAITING_FOR_CONFIG until a configuration is
 * stored; schema validation naming fields; revisions so two writers cannot overwrite each
 * other; the module's own rejection; secrets never returned or logged; survives kill -9.
 */
import assert from "node:assert/strict";
import { addModule, ROOT, startOrchestrator, waitForState } from "../helpers/test_orchestrator.ts";

async function put(url: string, body: unknown) {
  const res = await fetch(`${url}/v1/modules/conf/config`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json(), text: "" };
}

Deno.test("config: validated, revisioned, secret, applied, durable", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  const data = await Deno.makeTempDir({ prefix: "ca-test-data-" });
  await addModule(
    dir,
    "conf",
    `command: ["deno", "run", "--allow-all", "${ROOT}tests/fixtures/configurable.ts"]\n`,
  );
  let orch = await startOrchestrator({ modules: dir, data });
  try {
    await waitForState(orch.url, "conf", "WAITING_FOR_CONFIG");
    const empty = await (await fetch(`${orch.url}/v1/modules/conf/config`)).json();
    // Nothing stored yet: the same shape as after a write, at revision 0.
    assert.deepEqual(empty.current, { module: "conf", revision: "0", config: {}, updatedBy: "" });
    assert.equal(empty.schema.properties.password.writeOnly, true);

    const invalid = await put(orch.url, {
      config: { port: 70000, colour: "red" },
      expectedRevision: "0",
    });
    assert.equal(invalid.status, 400);
    assert.match(invalid.body.message, /host: is required/);
    assert.match(invalid.body.message, /port: must be <= 65535/);
    assert.match(invalid.body.message, /colour: unknown field/);

    const stale = await put(orch.url, { config: { host: "a" }, expectedRevision: "5" });
    assert.equal(stale.status, 409);
    assert.match(stale.body.message, /at revision 0, not 5/);

    const first = await put(orch.url, {
      config: { host: "cam.local", port: 554, password: "s3cret" },
      expectedRevision: "0",
    });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.current.revision, "1");
    assert.equal(first.body.current.config.password, "********");
    await waitForState(orch.url, "conf", "READY", 10_000);

    const rejected = await put(orch.url, { config: { host: "reject.me" }, expectedRevision: "1" });
    assert.equal(rejected.status, 400);
    assert.match(
      rejected.body.message,
      /rejected the configuration: host reject\.me is unreachable/,
    );

    // The masked secret keeps its stored value.
    const second = await put(orch.url, {
      config: { host: "cam2.local", port: 554, password: "********" },
      expectedRevision: "1",
      updatedBy: "dashboard",
    });
    assert.equal(second.status, 200);
    assert.equal(second.body.current.revision, "2");
    const logs = await (await fetch(`${orch.url}/v1/modules/conf/logs?tail=20`)).text();
    assert.match(logs, /configured revision 2 host=cam2\.local password=set\(6\)/);

    const history = await (await fetch(`${orch.url}/v1/modules/conf/config/revisions`)).json();
    assert.deepEqual(history.revisions.map((r: { revision: string }) => r.revision), ["2", "1"]);
    assert.equal(history.revisions[0].updatedBy, "dashboard");
    assert.ok(!JSON.stringify(history).includes("s3cret"), "secrets never returned");
  } finally {
    // kill -9: the acknowledged writes must survive.
    orch.child.kill("SIGKILL");
    await orch.child.status;
  }
  assert.ok(!orch.logs.some((l) => JSON.stringify(l).includes("s3cret")), "secrets never logged");
  orch = await startOrchestrator({ modules: dir, data });
  try {
    // The stored configuration is sent at registration: READY without waiting.
    await waitForState(orch.url, "conf", "READY");
    const current = await (await fetch(`${orch.url}/v1/modules/conf/config`)).json();
    assert.equal(current.current.revision, "2");
    assert.equal(current.current.config.host, "cam2.local");
    const unknown = await fetch(`${orch.url}/v1/modules/ghost/config`);
    assert.equal(unknown.status, 404);
    await unknown.body?.cancel();
  } finally {
    await orch.stop();
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(data, { recursive: true });
  }
});
