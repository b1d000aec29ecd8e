/**
 * No example module outlives a killed orchestrator: the orchestrator runs the real
 * `modules/` directory, is killed with SIGKILL, and every process of every example
 * module (the module, its children, anything in its process group or cgroup) must be
 * gone within 2 s, each module noticing the end of its standard input. Written over
 * whatever example modules exist, so new ones are checked too.
 */
import assert from "node:assert/strict";
import {
  isAlive,
  listModules,
  ROOT,
  startOrchestrator,
  waitFor,
} from "../helpers/test_orchestrator.ts";
import { groupMembers } from "../../src/supervisor/process_group.ts";
import { cgroupPids } from "../../src/supervisor/cgroups.ts";

const RUNNING = new Set([
  "MODULE_STATE_READY",
  "MODULE_STATE_DEGRADED",
  "MODULE_STATE_WAITING_FOR_CONFIG",
]);

Deno.test("orphans: every example module exits within 2 s of the orchestrator's kill -9", async () => {
  const names = [...Deno.readDirSync(`${ROOT}modules`)]
    .filter((e) => e.isDirectory)
    .filter((e) => {
      try {
        return Deno.statSync(`${ROOT}modules/${e.name}/module.yaml`).isFile;
      } catch {
        return false;
      }
    })
    .map((e) => e.name)
    .sort();
  assert.ok(names.length >= 3, `example modules: ${names}`);
  const data = await Deno.makeTempDir({ prefix: "ca-test-data-" });
  const orch = await startOrchestrator({ modules: `${ROOT}modules`, data });
  const problems: string[] = [];
  const report = (name: string, problem: string) => problems.push(`${name}: ${problem}`);
  let processes = new Map<string, number[]>();
  try {
    // Each module running (or, for one that cannot, given up on after 60 s).
    await waitFor(
      async () => {
        const modules = await listModules(orch.url);
        return names.every((n) => RUNNING.has(modules[n]?.state));
      },
      60_000,
      `every example module running (${names.join(", ")})`,
    ).catch((err) => {
      problems.push(String(err));
    });
    const contained = orch.logs.find((l) => l.msg === "module processes contained");
    const root = contained?.by === "cgroup" ? String(contained.cgroup) : "";
    const modules = await listModules(orch.url);
    processes = new Map(names.map((n) => {
      const pid = modules[n]?.pid ?? 0;
      const members = pid > 0 ? groupMembers(pid) : [];
      const inCgroup = root ? cgroupPids(`${root}/m-${n}`) : [];
      return [n, [...new Set([pid, ...members, ...inCgroup].filter((p) => p > 0))]];
    }));
    for (const [name, pids] of processes) {
      if (pids.length === 0) report(name, `never ran (${modules[name]?.lastError ?? "unknown"})`);
    }
  } finally {
    orch.child.kill("SIGKILL");
    await orch.child.status;
  }
  const killedAt = Date.now();
  for (const [name, pids] of processes) {
    if (pids.length === 0) continue;
    const remaining = () => pids.filter(isAlive);
    while (remaining().length > 0 && Date.now() - killedAt < 2_000) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const left = remaining();
    if (left.length > 0) {
      report(name, `processes ${left.join(", ")} alive 2 s after the orchestrator's kill -9`);
      for (const pid of left) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch {
          // Gone meanwhile.
        }
      }
    }
  }
  assert.deepEqual(problems, []);
});
