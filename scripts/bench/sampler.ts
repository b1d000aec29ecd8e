/**
 * Resource sampler cost: what sampling the CPU and memory of every
 * module's process tree from /proc costs the orchestrator, with 20 minimal SDK modules:
 * - the orchestrator's CPU (share of a core) with sampling at its default interval (5 s)
 *   against the same 20 modules with sampling off (CA_RESOURCE_INTERVAL_MS=0): the ratio,
 *   and the absolute figure;
 * - the same at a 250 ms interval (20 times the default rate), so the cost rises above
 *   the noise of 20 modules' health checks: CPU ms per sample from the difference;
 * - one sample timed directly in this process (one /proc scan, 20 trees summed), the
 *   median of 200, with how many processes the machine had.
 */
import { sleep } from "../../tests/helpers/wait.ts";
import { scanProcesses, treeOf, usageOf } from "../../src/supervisor/process_tree.ts";
import { startOrchestrator, waitAllReady } from "./bench_orchestrator.ts";
import { listModules } from "./gateway_http.ts";
import { BENCH_MODULE, minimalModules, modulesDir, warmCache } from "./module_dirs.ts";
import { cpuDuring } from "./resources.ts";
import { median } from "./stats.ts";
import { type BenchResult, metric } from "./report.ts";
import type { BenchContext } from "./context.ts";
import { ROOT } from "../../tests/helpers/test_orchestrator.ts";

const MODULES = 20;

/** The orchestrator's CPU share over `seconds` with sampling every `intervalMs` (0 off). */
async function orchestratorCpu(
  dir: string,
  intervalMs: number,
  seconds: number,
  ctx: BenchContext,
): Promise<number> {
  const orch = await startOrchestrator({
    modules: dir,
    env: { CA_RESOURCE_INTERVAL_MS: String(intervalMs) },
  });
  try {
    await waitAllReady(orch, MODULES);
    await sleep(3000);
    const { cpu } = await cpuDuring({ orch: orch.pid }, () => sleep(seconds * 1000));
    ctx.log(`sampler: interval ${intervalMs || "off"}: orchestrator ${cpu.orch.toFixed(4)} cores`);
    return cpu.orch;
  } finally {
    await orch.stop();
  }
}

/** Runs the sampler benchmark. */
export async function samplerBench(ctx: BenchContext): Promise<BenchResult[]> {
  await warmCache(`${ROOT}main.ts`, BENCH_MODULE);
  const result: BenchResult = {
    name: "sampler",
    title: "Resource sampler",
    status: "ok",
    metrics: [],
  };
  const seconds = ctx.quick ? 10 : 30;
  const dir = await modulesDir(minimalModules(MODULES));
  const off: number[] = [];
  const standard: number[] = [];
  const fast: number[] = [];
  for (let round = 0; round < ctx.rounds; round++) {
    off.push(await orchestratorCpu(dir, 0, seconds, ctx));
    standard.push(await orchestratorCpu(dir, 5000, seconds, ctx));
    fast.push(await orchestratorCpu(dir, 250, seconds, ctx));
  }
  const offCpu = median(off);
  const standardCpu = median(standard);
  const fastCpu = median(fast);
  result.metrics.push(
    metric(`orchestrator CPU, ${MODULES} modules sampled every 5 s`, standardCpu * 100, "% core", {
      baseline: "sampling off",
      baselineValue: offCpu * 100,
      digits: 3,
    }),
    metric(`orchestrator CPU, ${MODULES} modules sampled every 250 ms`, fastCpu * 100, "% core", {
      baseline: "sampling off",
      baselineValue: offCpu * 100,
      digits: 3,
    }),
    // 4 samples a second at 250 ms: the extra CPU seconds per second over 4.
    metric("CPU per sample (from the 250 ms run)", ((fastCpu - offCpu) / 4) * 1000, "ms", {
      digits: 3,
    }),
  );

  // One sample timed here, on the live trees of 20 modules (sampling off in the
  // orchestrator, so only this process reads /proc).
  const orch = await startOrchestrator({ modules: dir, env: { CA_RESOURCE_INTERVAL_MS: "0" } });
  try {
    await waitAllReady(orch, MODULES);
    const pids = (await listModules(orch.url)).map((m) => Number(m.pid)).filter((p) => p > 0);
    const times: number[] = [];
    let processes = 0;
    for (let i = 0; i < 200; i++) {
      const t0 = performance.now();
      const snapshot = scanProcesses();
      for (const pid of pids) usageOf(treeOf(snapshot, pid));
      times.push(performance.now() - t0);
      processes = snapshot.byPid.size;
    }
    result.metrics.push(
      metric(`one sample of ${pids.length} modules, timed in process`, median(times), "ms", {
        digits: 3,
        note: `${processes} processes on the machine`,
      }),
    );
    result.note = `${MODULES} minimal SDK modules; ${seconds} s per run, ${ctx.rounds} ` +
      `round(s), medians; a sample = one /proc scan (${processes} processes) + ${pids.length} trees`;
  } finally {
    await orch.stop();
  }
  return [result];
}
