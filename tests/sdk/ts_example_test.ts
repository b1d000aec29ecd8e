/**
 * The minimal TypeScript sink of the SDK's examples (packages/sdk-ts/examples/minimal-sink),
 * run unedited by the real orchestrator: READY, an entity created through the gateway, a
 * flow from the test camera to it (ACTIVE, the sink's own status in it), a connection it
 * cannot take refused, stopped and deleted. Also: the example stays under 60 lines.
 */
import assert from "node:assert/strict";
import { ROOT, startOrchestrator } from "../helpers/test_orchestrator.ts";
import { addExample, ok, waitReady } from "../flows/flow_helpers.ts";
import { flowIntoMinimalSink } from "./minimal_sink_flow.ts";

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

    await flowIntoMinimalSink(url, camera.id, recorder.id);
  } finally {
    await orch.stop();
    await Deno.remove(modules, { recursive: true });
  }
});
