/**
 * Cold start:
 * - orchestrator start (spawn of `deno run main.ts`) to the gateway answering
 *   `GET /healthz`, against a raw `Deno.serve` hello started the same way;
 * - orchestrator start to every module READY for 1, 10 and 50 minimal SDK modules (1
 *   and 10 in --quick),
 *   against the same modules started directly by the benchmark in parallel (their own
 *   start: spawn to HealthCheck answered). The orchestrator's own overhead per module is
 *   (listening to all READY - the modules' own parallel start) / N.
 */
import { ROOT } from "../../tests/helpers/test_orchestrator.ts";
import { freePort } from "../../tests/helpers/free_ports.ts";
import { DENO, spawn } from "../../tests/helpers/processes.ts";
import { sleep } from "../../tests/helpers/wait.ts";
import { startOrchestrator, waitAllReady } from "./bench_orchestrator.ts";
import { startModulesDirectly } from "./direct_modules.ts";
import { BENCH_DIR, BENCH_MODULE, minimalModules, modulesDir, warmCache } from "./module_dirs.ts";
import { median } from "./stats.ts";
import { type BenchResult, metric } from "./report.ts";
import type { BenchContext } from "./context.ts";

/** Polls `url` every 2 ms until it answers 200; returns when. */
async function firstAnswer(url: string, timeoutMs = 30_000): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    try {
      const res = await fetch(url);
      await res.body?.cancel();
      if (res.ok) return performance.now();
    } catch {
      // Not listening yet.
    }
    await sleep(2);
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`);
}

/** Spawn of the hello server to its first answer, in ms. */
async function helloColdStart(): Promise<number> {
  const port = freePort();
  const t0 = performance.now();
  const proc = spawn(DENO, ["run", "--allow-all", `${BENCH_DIR}hello_server.ts`], {
    env: { ...Deno.env.toObject(), PORT: String(port) },
  });
  try {
    return (await firstAnswer(`http://127.0.0.1:${port}/`)) - t0;
  } finally {
    await proc.stop(2000);
  }
}

/** Spawn of the orchestrator (no modules) to its gateway's first answer, in ms. */
async function orchestratorColdStart(emptyDir: string): Promise<number> {
  const orch = await startOrchestrator({ modules: emptyDir, waitListening: false });
  try {
    return (await firstAnswer(`${orch.url}/healthz`)) - orch.spawnedAt;
  } finally {
    await orch.stop();
  }
}

interface ModulesStart {
  /** Spawn to every module READY. */
  allReadyMs: number;
  /** "orchestrator listening" (modules are spawned right after) to every module READY. */
  listeningToReadyMs: number;
}

async function orchestratorWithModules(count: number): Promise<ModulesStart> {
  const dir = await modulesDir(minimalModules(count));
  const orch = await startOrchestrator({ modules: dir });
  try {
    const listening = orch.logs.find((l) => l.line.msg === "orchestrator listening")!.at;
    const last = await waitAllReady(orch, count, 120_000);
    return { allReadyMs: last - orch.spawnedAt, listeningToReadyMs: last - listening };
  } finally {
    await orch.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** Runs the cold-start benchmarks. */
export async function coldStartBench(ctx: BenchContext): Promise<BenchResult[]> {
  await warmCache(`${ROOT}main.ts`, BENCH_MODULE, `${BENCH_DIR}hello_server.ts`);
  const result: BenchResult = {
    name: "cold-start",
    title: "Cold start",
    status: "ok",
    metrics: [],
  };
  const reps = ctx.quick ? 2 : 7;
  const empty = await Deno.makeTempDir({ prefix: "ca-bench-empty-" });
  try {
    const hello: number[] = [];
    const orch: number[] = [];
    // Interleaved, so a noisy moment hits both.
    for (let i = 0; i < reps; i++) {
      hello.push(await helloColdStart());
      orch.push(await orchestratorColdStart(empty));
    }
    ctx.log(
      `gateway answering: ${orch.map((n) => n.toFixed(0))} ms; hello ${
        hello.map((n) => n.toFixed(0))
      } ms`,
    );
    result.metrics.push(
      metric("start to gateway answering (median)", median(orch), "ms", {
        baseline: "raw Deno.serve start",
        baselineValue: median(hello),
        targets: [{ op: "<=", value: 300 }],
        digits: 1,
      }),
    );
  } finally {
    await Deno.remove(empty, { recursive: true }).catch(() => {});
  }

  // 50 modules take about 15 s with their baseline: the full run only.
  const counts = ctx.quick ? [1, 10] : [1, 10, 50];
  // One module starts in half a second but varies by tens of ms: more runs for it.
  const repsFor = (n: number) => n === 1 ? (ctx.quick ? 3 : 5) : ctx.quick ? 1 : n === 50 ? 2 : 3;
  const one: { own: number; orch: ModulesStart }[] = [];
  for (const n of counts) {
    const own: number[] = [];
    const runs: ModulesStart[] = [];
    for (let i = 0; i < repsFor(n); i++) {
      own.push(await startModulesDirectly(n));
      await sleep(200);
      runs.push(await orchestratorWithModules(n));
      await sleep(200);
    }
    const ownMs = median(own);
    const allReady = median(runs.map((r) => r.allReadyMs));
    const afterListen = median(runs.map((r) => r.listeningToReadyMs));
    if (n === 1) one.push({ own: ownMs, orch: runs[0] });
    const overhead = (afterListen - ownMs) / n;
    ctx.log(
      `${n} module(s): all READY ${allReady.toFixed(0)} ms after spawn ` +
        `(${afterListen.toFixed(0)} ms after listening); their own parallel start ${
          ownMs.toFixed(0)
        } ms`,
    );
    result.metrics.push(
      metric(`${n} module${n > 1 ? "s" : ""}: start to all READY`, allReady, "ms", {
        baseline: "modules' own parallel start",
        baselineValue: ownMs,
        digits: 1,
      }),
      metric(`${n} module${n > 1 ? "s" : ""}: orchestrator overhead per module`, overhead, "ms", {
        targets: [{ op: "<=", value: 20 }],
        note: "(listening to all READY - the same modules' own parallel start) / N",
        digits: 2,
      }),
    );
    if (n > 1 && one.length) {
      // How parallel the start is: N starts one after another would take N x one start.
      const serial = n * (one[0].orch.listeningToReadyMs);
      result.metrics.push(
        metric(`${n} modules: parallel start speed-up`, serial / afterListen, "x", {
          note: `N x (one module's listening-to-READY) / (N modules' listening-to-READY)`,
        }),
      );
    }
  }
  return [result];
}
