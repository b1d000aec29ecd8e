/**
 * Stopping with real process trees: SIGKILL after stop_timeout for a module that ignores
 * SIGTERM, grandchildren gone after a stop, start/stop/restart by hand (also from FAILED),
 * and no module process outliving an orchestrator killed with SIGKILL.
 */
import assert from "node:assert/strict";
import {
  addBehaving,
  addModule,
  fixtureCopy,
  isAlive,
  startOrchestrator,
  waitFor,
  waitForState,
} from "../helpers/test_orchestrator.ts";
import { groupMembers } from "../../src/supervisor/process_group.ts";

async function post(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, {
    method: "POST",
    body: "{}",
    headers: { "content-type": "application/json" },
  });
  return { status: res.status, body: await res.json() };
}

Deno.test("stop: SIGTERM ignored -> SIGKILL after stop_timeout; grandchildren gone", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  await addModule(
    dir,
    "stubborn",
    `command: ["sh", "-c", "trap '' TERM; sleep 600 & sleep 600"]\nstart_timeout: 60s\nstop_timeout: 1s\n`,
  );
  await addBehaving(dir, "parent", "grandchild");
  const orch = await startOrchestrator({ modules: dir });
  try {
    const stubborn = await waitForState(orch.url, "stubborn", "STARTING", 10_000, (m) => m.pid > 0);
    const parent = await waitForState(orch.url, "parent", "READY");
    const logs = await (await fetch(`${orch.url}/v1/modules/parent/logs?tail=20`)).text();
    const grandchild = Number(/grandchild=(\d+)/.exec(logs)?.[1]);
    assert.ok(grandchild > 0 && isAlive(grandchild), "the grandchild runs");

    const stopped = await post(`${orch.url}/v1/modules/stubborn:stop`);
    assert.equal(stopped.status, 200);
    assert.equal((stopped.body.module as { state: string }).state, "MODULE_STATE_STOPPED");
    assert.deepEqual(groupMembers(stubborn.pid), [], "nothing of the stubborn module survives");
    assert.ok(
      orch.logs.some((l) => l.msg === "module did not stop in time, killing its process group"),
    );

    const stoppedParent = await post(`${orch.url}/v1/modules/parent:stop`);
    assert.equal((stoppedParent.body.module as { state: string }).state, "MODULE_STATE_STOPPED");
    assert.ok(!isAlive(parent.pid), "the module is gone");
    assert.ok(!isAlive(grandchild), "its grandchild is gone too");

    // Started again by hand.
    const started = await post(`${orch.url}/v1/modules/parent:start`);
    assert.equal(started.status, 200);
    const again = await waitForState(orch.url, "parent", "READY");
    assert.notEqual(again.pid, parent.pid);
    const restarted = await post(`${orch.url}/v1/modules/parent:restart`);
    assert.equal(restarted.status, 200);
    const third = await waitForState(
      orch.url,
      "parent",
      "READY",
      30_000,
      (m) => m.pid !== again.pid,
    );
    assert.equal(third.restarts, 0, "a restart by hand resets the restart count");
    const missing = await post(`${orch.url}/v1/modules/ghost:restart`);
    assert.equal(missing.status, 404);
  } finally {
    await orch.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("restart by hand brings a FAILED (crash-looping) module back to trying", async () => {
  const dir = await fixtureCopy("exits-at-once");
  const orch = await startOrchestrator({ modules: dir });
  try {
    const failed = await waitForState(orch.url, "exits-at-once", "FAILED");
    const runs = (failed.history as unknown[]).length;
    const res = await post(`${orch.url}/v1/modules/exits-at-once:restart`);
    assert.equal(res.status, 200);
    const again = await waitForState(
      orch.url,
      "exits-at-once",
      "FAILED",
      20_000,
      (m) => (m.history as unknown[]).length >= runs + 3,
    );
    assert.match(again.lastError, /crash loop/);
  } finally {
    await orch.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("orchestrator killed with SIGKILL: SDK modules exit, leftovers reaped at next start", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  const data = await Deno.makeTempDir({ prefix: "ca-test-data-" });
  await addBehaving(dir, "sdk", "ok");
  // Ignores stdin: only the next start's reaping can end it.
  await addModule(
    dir,
    "deaf",
    `command: ["sh", "-c", "sleep 600 & sleep 600"]\nstart_timeout: 60s\n`,
  );
  const first = await startOrchestrator({ modules: dir, data });
  let deafPid = 0;
  let sdkPid = 0;
  try {
    sdkPid = (await waitForState(first.url, "sdk", "READY")).pid;
    deafPid = (await waitForState(first.url, "deaf", "STARTING", 10_000, (m) => m.pid > 0)).pid;
  } finally {
    first.child.kill("SIGKILL");
    await first.child.status;
  }
  await waitFor(() => !isAlive(sdkPid), 10_000, "the SDK module to exit on stdin EOF");
  assert.ok(groupMembers(deafPid).length > 0, "the deaf module outlived the orchestrator");

  await Deno.remove(`${dir}/deaf`, { recursive: true });
  const second = await startOrchestrator({ modules: dir, data });
  try {
    await second.waitForLog((l) =>
      l.msg === "terminating module processes left from a previous run" && l.pid === deafPid
    );
    assert.deepEqual(groupMembers(deafPid), [], "the leftover process group is gone");
    await waitForState(second.url, "sdk", "READY");
  } finally {
    await second.stop();
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(data, { recursive: true });
  }
});

Deno.test("signals: a doubled Ctrl-C stops gracefully; a second signal a second later forces the exit", async () => {
  const calm = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  await addBehaving(calm, "quick", "ok");
  const dir = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  // Ignores SIGTERM: a graceful stop waits the whole stop_timeout for it.
  await addModule(
    dir,
    "stubborn",
    `command: ["sh", "-c", "trap '' TERM; sleep 600 & sleep 600"]\nstart_timeout: 60s\nstop_timeout: 20s\n`,
  );
  try {
    // Two SIGINTs 20 ms apart (as `deno task` delivers one Ctrl-C): a graceful stop, exit 0.
    let orch = await startOrchestrator({ modules: calm });
    const quick = await waitForState(orch.url, "quick", "READY");
    orch.child.kill("SIGINT");
    await new Promise((r) => setTimeout(r, 20));
    orch.child.kill("SIGINT");
    let status = await orch.stop();
    assert.equal(status.code, 0, "one doubled Ctrl-C is one graceful stop");
    assert.ok(orch.logs.some((l) => l.msg === "stopped"));
    assert.ok(!isAlive(quick.pid));

    // A second signal well after the first, while the stubborn module holds the stop up:
    // every module group is killed at once and the exit code is 130.
    orch = await startOrchestrator({ modules: dir });
    const stubborn = await waitForState(orch.url, "stubborn", "STARTING", 10_000, (m) => m.pid > 0);
    orch.child.kill("SIGINT");
    await orch.waitForLog((l) => l.msg === "stopping");
    await new Promise((r) => setTimeout(r, 1_500));
    const forcedAt = performance.now();
    orch.child.kill("SIGINT");
    status = await orch.stop();
    assert.equal(status.code, 130);
    assert.ok(performance.now() - forcedAt < 5_000, "the forced exit does not wait");
    await waitFor(() => groupMembers(stubborn.pid).length === 0, 5_000, "stubborn's group gone");
  } finally {
    await Deno.remove(calm, { recursive: true });
    await Deno.remove(dir, { recursive: true });
  }
});
