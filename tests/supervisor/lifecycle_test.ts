/**
 * The orchestrator core end to end: real orchestrator, real module processes, real HTTP.
 * Bad manifests, a missing binary and a module that never listens are FAILED with clear
 * reasons while the good module runs; SIGTERM leaves no process behind.
 */
import assert from "node:assert/strict";
import {
  addCamera,
  fixtureCopy,
  getJson,
  isAlive,
  startOrchestrator,
  waitFor,
} from "../helpers/test_orchestrator.ts";

type Module = Record<string, unknown> & {
  name: string;
  state: string;
  pid: number;
  lastError: string;
};

async function modules(url: string): Promise<Record<string, Module>> {
  const { body } = await getJson(`${url}/v1/modules`);
  return Object.fromEntries((body.modules as Module[]).map((m) => [m.name, m]));
}

Deno.test("good module READY, bad ones FAILED with reasons, SIGTERM leaves nothing", async () => {
  const dir = await fixtureCopy("bad-yaml", "no-command", "missing-binary", "never-listens");
  await addCamera(dir);
  const orch = await startOrchestrator({ modules: dir });
  let neverListensPid = 0;
  let cameraPid = 0;
  try {
    const all = await waitFor(
      async () => {
        const m = await modules(orch.url);
        return m["test-camera"]?.state === "MODULE_STATE_READY" &&
            m["never-listens"]?.state === "MODULE_STATE_FAILED"
          ? m
          : undefined;
      },
      30_000,
      "camera READY and never-listens FAILED",
    );

    const camera = all["test-camera"];
    cameraPid = camera.pid;
    assert.ok(camera.pid > 0 && isAlive(camera.pid), "camera has a live pid");
    assert.ok((camera.grpcPort as number) > 0, "camera has a port");
    assert.equal((camera.health as { state: string }).state, "HEALTH_STATE_READY");
    assert.equal((camera.capabilities as unknown[]).length, 1);

    const bad = all["bad-yaml"];
    assert.equal(bad.state, "MODULE_STATE_FAILED");
    assert.match(bad.lastError, /bad-yaml\/module\.yaml:\d+: YAML syntax error/);

    assert.equal(all["no-command"].state, "MODULE_STATE_FAILED");
    assert.match(
      all["no-command"].lastError,
      /no-command\/module\.yaml:1: command: missing required field "command"/,
    );

    assert.equal(all["missing-binary"].state, "MODULE_STATE_FAILED");
    assert.match(all["missing-binary"].lastError, /cannot start "\.\/does-not-exist --flag"/);

    const never = all["never-listens"];
    assert.match(never.lastError, /did not answer on port \d+ within 1500 ms/);
    assert.equal(never.pid, 0);
    neverListensPid = Number((never.history as { pid: number }[])[0].pid);
    assert.ok(!isAlive(neverListensPid), "the module that never listened was killed");

    // GetModule by name, and a JSON 404 for an unknown one.
    const one = await getJson(`${orch.url}/v1/modules/test-camera`);
    assert.equal(one.status, 200);
    assert.equal((one.body.module as Module).pid, camera.pid);
    const missing = await getJson(`${orch.url}/v1/modules/nope`);
    assert.equal(missing.status, 404);
    assert.equal(missing.body.code, 5);
    assert.match(String(missing.body.message), /module "nope" not found/);
  } finally {
    const status = await orch.stop();
    assert.equal(status.code, 0, "orchestrator exits 0 after SIGTERM");
    await Deno.remove(dir, { recursive: true });
  }
  assert.ok(
    cameraPid > 0 && !isAlive(cameraPid),
    "camera process is gone after the orchestrator stopped",
  );
  // The never-listens fixture started two sleeps in its process group: none survive.
  const leftovers = new Deno.Command("pgrep", { args: ["-g", String(neverListensPid)] })
    .outputSync();
  const alive = new TextDecoder().decode(leftovers.stdout).split("\n").filter(Boolean).map(Number)
    .filter(isAlive);
  assert.deepEqual(alive, []);
});

Deno.test("a module that keeps exiting is restarted with backoff, then parked FAILED with its stderr", async () => {
  const dir = await fixtureCopy("exits-at-once");
  const orch = await startOrchestrator({ modules: dir });
  try {
    const m = await waitFor(
      async () => {
        const m = (await modules(orch.url))["exits-at-once"];
        return m?.state === "MODULE_STATE_FAILED" ? m : undefined;
      },
      20_000,
      "exits-at-once FAILED",
    );
    assert.match(m.lastError, /crash loop: 2 restarts within 30 s; last: exited with code 3/);
    assert.equal(m.exitCode, 3);
    assert.equal((m.history as unknown[]).length, 3);
    assert.ok((m.lastStderr as string[]).includes("fatal: no camera"));
  } finally {
    await orch.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a killed module is restarted and READY again with a new pid", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  await addCamera(dir);
  const orch = await startOrchestrator({ modules: dir });
  try {
    const first = await waitFor(async () => {
      const m = (await modules(orch.url))["test-camera"];
      return m?.state === "MODULE_STATE_READY" ? m : undefined;
    });
    Deno.kill(first.pid, "SIGKILL");
    const again = await waitFor(async () => {
      const m = (await modules(orch.url))["test-camera"];
      return m?.state === "MODULE_STATE_READY" && m.pid !== first.pid ? m : undefined;
    });
    assert.equal(again.restarts, 1);
    assert.equal(again.exitSignal, "SIGKILL");
  } finally {
    await orch.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
