/**
 * Dependency order with real processes: dependencies READY first, independent modules in
 * parallel, cycles and unknown dependencies FAILED with the reason, everything else runs.
 */
import assert from "node:assert/strict";
import {
  addBehaving,
  listModules,
  startOrchestrator,
  waitForState,
} from "../helpers/test_orchestrator.ts";

type StateLog = { module: string; to: string; time: string };

Deno.test("dependencies: order, parallel start, cycle and unknown dependency", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  await addBehaving(dir, "base", "ok");
  await addBehaving(dir, "middle", "ok", `dependencies: ["base"]\n`);
  await addBehaving(dir, "top", "ok", `dependencies: ["middle", "base"]\n`);
  await addBehaving(dir, "loner", "ok");
  await addBehaving(dir, "ping", "ok", `dependencies: ["pong"]\n`);
  await addBehaving(dir, "pong", "ok", `dependencies: ["ping"]\n`);
  await addBehaving(dir, "orphan", "ok", `dependencies: ["ghost"]\n`);
  const orch = await startOrchestrator({ modules: dir });
  try {
    await waitForState(orch.url, "top", "READY");
    await waitForState(orch.url, "loner", "READY");
    const all = await listModules(orch.url);
    assert.equal(all.ping.state, "MODULE_STATE_FAILED");
    assert.equal(all.ping.lastError, "dependency cycle: ping -> pong -> ping");
    assert.equal(all.pong.state, "MODULE_STATE_FAILED");
    assert.match(all.pong.lastError, /dependency cycle: .*ping -> pong|pong -> ping/);
    assert.equal(all.orphan.state, "MODULE_STATE_FAILED");
    assert.equal(all.orphan.lastError, 'unknown dependency "ghost"');
    assert.equal(all.ping.pid, 0, "a module on a cycle is never spawned");

    const transitions = orch.logs
      .filter((l) => l.msg === "module state changed")
      .map((l) => l as unknown as StateLog);
    const at = (module: string, to: string) =>
      transitions.findIndex((t) => t.module === module && t.to === to);
    // Each dependent starts only after its dependencies are READY.
    assert.ok(at("base", "READY") < at("middle", "STARTING"), "base READY before middle starts");
    assert.ok(at("middle", "READY") < at("top", "STARTING"), "middle READY before top starts");
    // Independent modules start in parallel: both spawned before either is READY.
    assert.ok(at("loner", "STARTING") < at("base", "READY"), "loner starts alongside base");
    assert.ok(at("base", "STARTING") < at("loner", "READY"), "base starts alongside loner");
    // While waiting, the dependent said what it waited for.
    const waiting = orch.logs.find((l) =>
      l.msg === "module waiting" && l.module === "top" && /middle \(/.test(String(l.reason))
    );
    assert.ok(waiting, "top was PENDING waiting for middle");
  } finally {
    await orch.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("dependencies: a dependent of a FAILED module waits in PENDING and says why", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  await addBehaving(dir, "needs-broken", "ok", `dependencies: ["broken"]\n`);
  await Deno.mkdir(`${dir}/broken`);
  await Deno.writeTextFile(
    `${dir}/broken/module.yaml`,
    `name: broken\ncommand: ["/no/such/binary"]\n`,
  );
  const orch = await startOrchestrator({ modules: dir });
  try {
    await waitForState(orch.url, "broken", "FAILED");
    const m = await waitForState(
      orch.url,
      "needs-broken",
      "PENDING",
      10_000,
      (m) => /broken \(FAILED\)/.test(m.lastError),
    );
    assert.equal(m.pid, 0);
    // Once the dependency is fixed and started by hand, the dependent follows.
    await Deno.writeTextFile(
      `${dir}/broken/module.yaml`,
      `name: broken\ncommand: ["deno", "run", "--allow-all", "${
        new URL("../fixtures/behave.ts", import.meta.url).pathname
      }"]\n`,
    );
    await waitForState(orch.url, "needs-broken", "READY", 30_000);
  } finally {
    await orch.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
