/**
 * The minimal Python sink of the SDK's examples (packages/sdk-python/examples/minimal-sink),
 * run unedited by the real orchestrator: READY, an entity created through the gateway, a
 * flow from the test camera to it, stopped and deleted. Also: the example stays under 60
 * lines, and the SDK copy a compiled binary writes out imports with Debian's Python.
 */
import assert from "node:assert/strict";
import { ROOT, startOrchestrator } from "../helpers/test_orchestrator.ts";
import { addExample, ok, waitReady } from "../flows/flow_helpers.ts";
import { flowIntoMinimalSink } from "./minimal_sink_flow.ts";
import { installPythonSdk } from "../../src/supervisor/python_sdk_dir.ts";

const EXAMPLE = `${ROOT}packages/sdk-python/examples/minimal-sink`;

Deno.test("Python SDK example: the minimal sink is under 60 lines", async () => {
  const lines = (await Deno.readTextFile(`${EXAMPLE}/minimal_sink.py`)).trimEnd().split("\n");
  assert.ok(lines.length < 60, `minimal_sink.py has ${lines.length} lines`);
});

Deno.test("Python SDK example: the orchestrator runs the minimal sink READY and flows reach it", async () => {
  const modules = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  await addExample(modules, "test-camera");
  await Deno.mkdir(`${modules}/minimal-sink`);
  // The example's own manifest, with the script by absolute path.
  const manifest = (await Deno.readTextFile(`${EXAMPLE}/module.yaml`))
    .replace('"minimal_sink.py"', JSON.stringify(`${EXAMPLE}/minimal_sink.py`));
  assert.match(manifest, /minimal-sink\/minimal_sink\.py/);
  await Deno.writeTextFile(`${modules}/minimal-sink/module.yaml`, manifest);
  const orch = await startOrchestrator({ modules });
  try {
    const url = orch.url;
    const all = await waitReady(url, ["test-camera", "minimal-sink"]);
    assert.match(all["minimal-sink"].capabilities[0].entityType, /^recorder$/);
    const camera = (await ok(url, "POST", "/v1/entities", { entityType: "video_source" })).entity;
    const recorder = (await ok(url, "POST", "/v1/entities", {
      entityType: "recorder",
      name: "Archive",
    })).entity;
    assert.deepEqual([recorder.id, recorder.module, recorder.kind], [
      "archive",
      "minimal-sink",
      "ENTITY_KIND_SINK",
    ]);

    await flowIntoMinimalSink(url, camera.id, recorder.id);
  } finally {
    await orch.stop();
    await Deno.remove(modules, { recursive: true });
  }
});

Deno.test("Python SDK: the copy a compiled binary writes imports with Debian's Python", async () => {
  const data = await Deno.makeTempDir({ prefix: "ca-test-data-" });
  try {
    const dir = await installPythonSdk(data);
    assert.ok(dir.startsWith(`${data}/sdk-python/`), dir);
    // Written once: a second call finds it.
    assert.equal(await installPythonSdk(data), dir);
    const out = await new Deno.Command("/usr/bin/python3", {
      args: ["-c", "import callassistant as ca; print(ca.__file__, ca.SDK_VERSION)"],
      env: { PYTHONPATH: dir },
      cwd: data,
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assert.ok(out.success, text);
    assert.ok(text.startsWith(`${dir}/callassistant/__init__.py callassistant-sdk-python/`), text);
    // Another SDK version replaces the old copy.
    const other = await installPythonSdk(data, [["callassistant/__init__.py", "X = 1\n"]]);
    assert.notEqual(other, dir);
    await assert.rejects(Deno.stat(dir));
  } finally {
    await Deno.remove(data, { recursive: true });
  }
});
