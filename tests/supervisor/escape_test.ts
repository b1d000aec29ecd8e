/**
 * A module whose child leaves it (double fork and setsid: neither its child nor in its
 * process group) is still stopped whole: by the module's stop, by the orchestrator's
 * clean exit, and after `kill -9` of the orchestrator by the next start's reaper. Each
 * module runs in a cgroup v2 of its own; this needs one (root here), else it is skipped
 * with a message (the process-group fallback cannot catch such a child).
 */
import assert from "node:assert/strict";
import {
  addBehaving,
  isAlive,
  startOrchestrator,
  type TestOrchestrator,
  waitFor,
  waitForState,
} from "../helpers/test_orchestrator.ts";

async function escapedPid(orch: TestOrchestrator, after = 0): Promise<number> {
  return await waitFor(
    async () => {
      const logs = await (await fetch(`${orch.url}/v1/modules/escaper/logs?tail=50`)).text();
      const pids = [...logs.matchAll(/escaped=(\d+)/g)].map((m) => Number(m[1]));
      const pid = pids.at(-1) ?? 0;
      return pid > 0 && pid !== after ? pid : undefined;
    },
    20_000,
    "the escaped child's pid",
  );
}

function cgroupMode(orch: TestOrchestrator): boolean {
  const line = orch.logs.find((l) => l.msg === "module processes contained");
  return line?.by === "cgroup";
}

Deno.test("escape: a double-forked setsid child never outlives its module", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  const data = await Deno.makeTempDir({ prefix: "ca-test-data-" });
  await addBehaving(dir, "escaper", "escape");
  const leftovers: number[] = [];
  try {
    let orch = await startOrchestrator({ modules: dir, data });
    await orch.waitForLog((l) => l.msg === "module processes contained");
    if (!cgroupMode(orch)) {
      console.log("SKIPPED: no cgroup v2 to contain modules in here (needs root or delegation)");
      await orch.stop();
      return;
    }
    // 1. The module's stop.
    await waitForState(orch.url, "escaper", "READY");
    let escaped = await escapedPid(orch);
    leftovers.push(escaped);
    assert.ok(isAlive(escaped));
    const stop = await fetch(`${orch.url}/v1/modules/escaper:stop`, { method: "POST" });
    assert.equal(stop.status, 200);
    await stop.body?.cancel();
    assert.ok(!isAlive(escaped), "stopping the module ends its escaped child");

    // 2. The orchestrator's clean exit.
    const start = await fetch(`${orch.url}/v1/modules/escaper:start`, { method: "POST" });
    await start.body?.cancel();
    escaped = await escapedPid(orch, escaped);
    leftovers.push(escaped);
    assert.ok(isAlive(escaped));
    assert.equal((await orch.stop()).code, 0);
    assert.ok(!isAlive(escaped), "the orchestrator's exit ends it");

    // 3. kill -9 of the orchestrator: the module exits on EOF, the escaped child cannot
    // know; the next start reaps the module's cgroup before anything else.
    orch = await startOrchestrator({ modules: dir, data });
    await waitForState(orch.url, "escaper", "READY");
    escaped = await escapedPid(orch);
    leftovers.push(escaped);
    orch.child.kill("SIGKILL");
    await orch.child.status;
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(isAlive(escaped), "still there after kill -9");
    orch = await startOrchestrator({ modules: dir, data });
    try {
      await orch.waitForLog((l) => l.msg === "modules discovered");
      assert.ok(!isAlive(escaped), "reaped at the next start");
      assert.ok(
        orch.logs.some((l) => l.msg === "terminating module processes left from a previous run"),
      );
    } finally {
      await orch.stop();
    }
  } finally {
    for (const pid of leftovers) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // Gone, as it should be.
      }
    }
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(data, { recursive: true });
  }
});
