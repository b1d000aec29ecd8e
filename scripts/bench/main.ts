/**
 * `deno task bench`: runs the benchmarks one after the other on this machine,
 * prints a table, writes `bench-results/<date>.json` and an SVG chart beside it.
 *
 * Flags:
 *   --quick            short run (under 2 minutes): fewer repetitions, 3 s loads, 15 s soak
 *   --only a,b         run only these benchmarks (gateway, events, cold-start, recovery,
 *                      memory, pathfinding, retry-buffer, media, watchdog,
 *                      sampler)
 *   --soak-minutes N   length of the memory soak (default 10; 1/3 in --quick)
 *   --load-seconds N   length of each measured load run (default 5; 3 in --quick)
 *   --rounds N         measured runs of each load, interleaved with its baselines
 *                      (default 2; 1 in --quick)
 *   --profile DIR      write CPU profiles of the orchestrator under the gateway and event
 *                      loads to DIR
 *   --out DIR          where results go (default bench-results/)
 *   --no-write         print the table only
 */
import { parseArgs } from "node:util";
import { ROOT } from "../../tests/helpers/test_orchestrator.ts";
import { cleanup, run } from "../../tests/helpers/processes.ts";
import { sleep } from "../../tests/helpers/wait.ts";
import { BENCH_DIR } from "./module_dirs.ts";
import { machineTicks } from "./resources.ts";
import { ensureTools, exists } from "./tools.ts";
import type { BenchContext } from "./context.ts";
import { type BenchResult, metric, type RunReport, svgChart, table } from "./report.ts";
import { gatewayBench } from "./gateway.ts";
import { eventsBench } from "./event_ingest.ts";
import { coldStartBench } from "./cold_start.ts";
import { recoveryBench } from "./recovery.ts";
import { memoryBench } from "./memory.ts";
import { pathfindingBench } from "./pathfinding.ts";
import { mediaBench } from "./media.ts";
import { watchdogBench } from "./watchdog.ts";
import { samplerBench } from "./sampler.ts";
import { summarizeProfile } from "./profile.ts";

type Bench = (ctx: BenchContext) => Promise<BenchResult[]>;

/**
 * retry_buffer.ts (another issue's benchmark: many small messages on one stream with and
 * without `grpc.per_rpc_retry_buffer_size: 0`), run as its own process; its lines are
 * parsed into figures.
 */
async function retryBufferBench(ctx: BenchContext): Promise<BenchResult[]> {
  const file = `${BENCH_DIR}retry_buffer.ts`;
  const result: BenchResult = {
    name: "retry-buffer",
    title: "grpc-js retry buffer",
    status: "ok",
    metrics: [],
  };
  if (!(await exists(file))) {
    return [{ ...result, status: "not available yet", note: "no scripts/bench/retry_buffer.ts" }];
  }
  const messages = ctx.quick ? 5000 : 20_000;
  const r = await run(Deno.execPath(), ["run", "--allow-all", file, String(messages), "30"], {
    allowFail: true,
  });
  const seconds = (name: string, which: string) =>
    Number(new RegExp(`^${name}: ${which}[^:]*:\\s+([0-9.]+) s`, "m").exec(r.stdout)?.[1] ?? NaN);
  for (const name of ["connect", "sink"]) {
    const withOption = seconds(name, "retry buffer 0");
    const defaults = seconds(name, "grpc-js defaults");
    if (Number.isNaN(withOption)) continue;
    result.metrics.push(
      metric(`${name}: ${messages} messages, retry buffer 0`, withOption, "s", {
        baseline: "grpc-js defaults",
        baselineValue: defaults,
        digits: 3,
      }),
    );
  }
  if (r.code !== 0 || result.metrics.length === 0) {
    result.status = "failed";
    result.note = (r.stdout + r.stderr).trim().split("\n").slice(-3).join(" | ").slice(0, 300);
  } else {
    result.note = `${messages} small events on one Connect stream; "connect": the ` +
      `orchestrator's EventService, "sink": a server answering at the end of the stream`;
  }
  return [result];
}

const BENCHES: Record<string, Bench> = {
  gateway: gatewayBench,
  events: eventsBench,
  "cold-start": coldStartBench,
  recovery: recoveryBench,
  memory: memoryBench,
  pathfinding: pathfindingBench,
  "retry-buffer": retryBufferBench,
  media: mediaBench,
  watchdog: watchdogBench,
  sampler: samplerBench,
};

async function machine(): Promise<Record<string, string | number>> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  const meminfo = await Deno.readTextFile("/proc/meminfo").catch(() => "");
  const memKb = Number(/MemTotal:\s+(\d+)/.exec(meminfo)?.[1] ?? 0);
  return {
    nproc: navigator.hardwareConcurrency,
    cpu: /model name\s*:\s*(.+)/.exec(cpuinfo)?.[1]?.trim() ?? Deno.build.arch,
    memGiB: Math.round(memKb / 1024 / 1024 * 10) / 10,
    kernel: Deno.osRelease(),
    os: `${Deno.build.os} ${Deno.build.arch}`,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    wrk: (await run("wrk", ["--version"], { allowFail: true })).stdout.split("\n")[0].trim(),
  };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      quick: { type: "boolean" },
      only: { type: "string" },
      "soak-minutes": { type: "string" },
      "load-seconds": { type: "string" },
      rounds: { type: "string" },
      profile: { type: "string" },
      out: { type: "string" },
      "no-write": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(
      (await Deno.readTextFile(new URL(import.meta.url))).split("*/")[0].replace(
        /^\/\*\*|^ \* ?/gm,
        "",
      ),
    );
    return 0;
  }
  const quick = values.quick ?? false;
  const names = values.only ? values.only.split(",").map((s) => s.trim()) : Object.keys(BENCHES);
  const unknown = names.filter((n) => !(n in BENCHES));
  if (unknown.length) {
    console.error(`unknown benchmark(s): ${unknown.join(", ")} (known: ${Object.keys(BENCHES)})`);
    return 2;
  }
  const started = performance.now();
  const log = (line: string) =>
    console.error(`[${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s] ${line}`);
  const ctx: BenchContext = {
    quick,
    log,
    rounds: Number(values.rounds ?? (quick ? 1 : 2)),
    seconds: {
      load: Number(values["load-seconds"] ?? (quick ? 3 : 5)),
      soak: Number(values["soak-minutes"] ?? (quick ? 0.25 : 10)) * 60,
    },
    profileDir: values.profile,
  };
  if (ctx.profileDir) await Deno.mkdir(ctx.profileDir, { recursive: true });

  const onSignal = () => {
    console.error("interrupted: stopping every process the benchmarks started");
    cleanup().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);

  const results: BenchResult[] = [];
  try {
    await ensureTools(log);
    for (const name of names) {
      // What the rest of the machine is doing, with nothing of ours running.
      const m0 = machineTicks();
      await sleep(quick ? 500 : 1000);
      const m1 = machineTicks();
      const background = Math.round(
        ((m1.busy - m0.busy) / (m1.total - m0.total)) * navigator.hardwareConcurrency * 100,
      ) / 100;
      log(`${name}: starting (background load: ${background} cores busy)`);
      const t0 = performance.now();
      try {
        const rs = await BENCHES[name](ctx);
        const seconds = Math.round((performance.now() - t0) / 100) / 10;
        for (const r of rs) results.push({ ...r, seconds, backgroundCores: background });
      } catch (err) {
        log(`${name}: failed: ${(err as Error).stack ?? err}`);
        results.push({
          name,
          title: name,
          status: "failed",
          note: String((err as Error).message ?? err).slice(0, 300),
          metrics: [],
        });
      } finally {
        await cleanup();
      }
      log(`${name}: done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
  } finally {
    await cleanup();
  }

  const date = new Date().toISOString().slice(0, 10);
  const report: RunReport = {
    date: new Date().toISOString(),
    mode: quick ? "quick" : "full",
    machine: await machine(),
    seconds: Math.round((performance.now() - started) / 1000),
    results,
  };
  console.log(table(results));
  const background = [...new Map(results.map((r) => [r.name, r.backgroundCores])).entries()]
    .filter(([, c]) => c !== undefined).map(([n, c]) => `${n} ${c}`).join(", ");
  console.log(`\nbackground load (cores busy just before each benchmark): ${background}`);
  console.log(
    `\n${report.mode} run in ${report.seconds} s on ${report.machine.cpu} ` +
      `x${report.machine.nproc}, ${report.machine.memGiB} GiB, deno ${report.machine.deno}`,
  );
  if (ctx.profileDir) {
    for await (const e of Deno.readDir(ctx.profileDir)) {
      if (e.name.endsWith(".cpuprofile")) {
        console.log(`\nCPU profile ${ctx.profileDir}/${e.name}:`);
        console.log(await summarizeProfile(`${ctx.profileDir}/${e.name}`));
      }
    }
  }
  if (!values["no-write"]) {
    const out = values.out ?? `${ROOT}bench-results`;
    await Deno.mkdir(out, { recursive: true });
    const base = `${out}/${date}${quick ? "-quick" : ""}${values.only ? "-partial" : ""}`;
    await Deno.writeTextFile(`${base}.json`, JSON.stringify(report, null, 2) + "\n");
    await Deno.writeTextFile(`${base}.svg`, svgChart(report));
    console.log(`\nwrote ${base}.json and ${base}.svg`);
  }
  return results.some((r) => r.status === "failed") ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main());
