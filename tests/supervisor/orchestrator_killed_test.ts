/**
 * kill -9 of the orchestrator: every example module (the TypeScript ones, the Python cast
 * screen and the Python SDK's minimal sink) notices the end of its standard input and exits
 * within 2 s, even though its standard error is now a broken pipe.
 */
import assert from "node:assert/strict";
import { isAlive, ROOT, startOrchestrator } from "../helpers/orchestrator.ts";
import { addExample, waitReady } from "../pipeline/helpers.ts";

const EXIT_WITHIN_MS = 2_000;

Deno.test("orchestrator killed with SIGKILL: every example module exits within 2 s", async () => {
  const modules = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  const examples = ["test-camera", "media-converter", "matrix-call", "cast-screen"] as const;
  for (const name of examples) await addExample(modules, name);
  await Deno.mkdir(`${modules}/minimal-sink`);
  await Deno.writeTextFile(
    `${modules}/minimal-sink/module.yaml`,
    `name: minimal-sink\ncommand: ["/usr/bin/python3", ` +
      `"${ROOT}packages/sdk-python/examples/minimal-sink/minimal_sink.py"]\n`,
  );
  const names = [...examples, "minimal-sink"];
  const orch = await startOrchestrator({ modules });
  const pids: Record<string, number> = {};
  try {
    const all = await waitReady(orch.url, names);
    for (const name of names) pids[name] = all[name].pid;
    // Something to write when the pipes break: a module logs while it stops.
    orch.child.kill("SIGKILL");
    await orch.child.status;
    const killedAt = performance.now();
    const exitedAfter: Record<string, number> = {};
    while (performance.now() - killedAt < EXIT_WITHIN_MS + 3_000) {
      for (const name of names) {
        if (exitedAfter[name] === undefined && !isAlive(pids[name])) {
          exitedAfter[name] = Math.round(performance.now() - killedAt);
        }
      }
      if (Object.keys(exitedAfter).length === names.length) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    console.log(`exit after the orchestrator's kill -9 (ms): ${JSON.stringify(exitedAfter)}`);
    for (const name of names) {
      assert.ok(exitedAfter[name] !== undefined, `${name} (pid ${pids[name]}) is still alive`);
      assert.ok(
        exitedAfter[name] <= EXIT_WITHIN_MS,
        `${name} took ${exitedAfter[name]} ms to exit`,
      );
    }
  } finally {
    for (const pid of Object.values(pids)) {
      if (isAlive(pid)) Deno.kill(-pid, "SIGKILL");
    }
    await orch.stop();
    await Deno.remove(modules, { recursive: true });
  }
});
