/**
 * Memory: the orchestrator's RSS (VmRSS of its process, modules not
 * included) with 10 minimal SDK modules:
 * - idle, once every module is READY and things settled (baseline: a raw Deno.serve
 *   hello, the floor of a Deno HTTP server);
 * - peak under gateway load (wrk, 32 connections on GET /v1/modules);
 * - a soak with events and restarts: an SDK module added by hot reload reports events
 *   (80/s, under the default flood limit of 100/s), an SSE client follows /v1/events,
 *   every 10 s a module is killed with SIGKILL or restarted through the API, and the
 *   gateway is polled. Growth = median RSS over the last 10% of the soak against the
 *   median over 25-35% (the first quarter fills the bounded event history of 10,000).
 */
import { ROOT } from "../../tests/helpers/test_orchestrator.ts";
import { sleep, within } from "../../tests/helpers/wait.ts";
import { startOrchestrator, stateLine, waitAllReady } from "./bench_orchestrator.ts";
import { getJson, listModules, postJson } from "./gateway_http.ts";
import { wrk } from "./load.ts";
import {
  BENCH_MODULE,
  minimalModules,
  modulesDir,
  warmCache,
  writeModules,
} from "./module_dirs.ts";
import { rssMiB, sampleRss } from "./resources.ts";
import { median } from "./stats.ts";
import { startHello } from "./gateway.ts";
import { type BenchResult, metric } from "./report.ts";
import type { BenchContext } from "./context.ts";

const MODULES = 10;

/** Follows GET /v1/events as SSE until aborted; counts the events. */
function followEvents(
  url: string,
  signal: AbortSignal,
): { count: () => number; status: Promise<string> } {
  let n = 0;
  const status = (async () => {
    try {
      const res = await fetch(`${url}/v1/events`, {
        headers: { accept: "text/event-stream" },
        signal,
      });
      if (res.status !== 200) {
        await res.body?.cancel();
        return `GET /v1/events answered ${res.status}`;
      }
      const decoder = new TextDecoder();
      // Cancelled by hand: aborting the fetch does not always end a pending read.
      const reader = res.body!.getReader();
      signal.addEventListener("abort", () => reader.cancel().catch(() => {}), { once: true });
      while (true) {
        const { value, done } = await reader.read();
        if (done) return signal.aborted ? "ok" : "ended";
        n += decoder.decode(value, { stream: true }).split("\ndata: ").length - 1;
      }
    } catch (err) {
      return signal.aborted ? "ok" : `failed: ${(err as Error).message}`;
    }
  })();
  return { count: () => n, status };
}

/** Runs the memory benchmark. */
export async function memoryBench(ctx: BenchContext): Promise<BenchResult[]> {
  await warmCache(`${ROOT}main.ts`, BENCH_MODULE);
  const result: BenchResult = { name: "memory", title: "Memory", status: "ok", metrics: [] };

  // The floor: a raw Deno.serve process.
  const hello = await startHello();
  await sleep(1000);
  const floor = rssMiB(hello.pid);
  await hello.stop();

  const dir = await modulesDir(minimalModules(MODULES));
  const orch = await startOrchestrator({ modules: dir });
  try {
    await waitAllReady(orch, MODULES);
    await sleep(ctx.quick ? 2000 : 5000);
    const idleSamples = sampleRss(orch.pid, 200);
    await sleep(ctx.quick ? 2000 : 3000);
    const idle = median(idleSamples.stop());
    ctx.log(
      `idle RSS with ${MODULES} modules: ${idle.toFixed(1)} MiB (Deno.serve floor ${
        floor.toFixed(1)
      } MiB)`,
    );
    result.metrics.push(
      metric(`idle RSS, ${MODULES} modules`, idle, "MiB", {
        baseline: "raw Deno.serve RSS",
        baselineValue: floor,
        targets: [{ op: "<=", value: 80 }],
        digits: 1,
      }),
    );

    const loadSamples = sampleRss(orch.pid, 200);
    const load = await wrk(`${orch.url}/v1/modules`, 32, ctx.seconds.load);
    const peak = Math.max(...loadSamples.stop());
    ctx.log(
      `RSS under gateway load (${load.requestsPerSecond.toFixed(0)} req/s): peak ${
        peak.toFixed(1)
      } MiB`,
    );
    result.metrics.push(
      metric("peak RSS under gateway load", peak, "MiB", {
        baseline: "idle",
        baselineValue: idle,
        digits: 1,
      }),
    );

    // The soak.
    const soakMs = ctx.seconds.soak * 1000;
    await writeModules(dir, [{ name: "ticker", mode: "ticker", env: { BENCH_EVENT_RATE: "80" } }]);
    const soakStart = performance.now();
    await orch.waitForLog(stateLine("READY", "ticker"), 60_000);
    const abort = new AbortController();
    const events = followEvents(orch.url, abort.signal);
    const samples: { t: number; rss: number }[] = [];
    let restarts = 0;
    let kills = 0;
    let polls = 0;
    let failures = 0;
    const poller = (async () => {
      while (!abort.signal.aborted) {
        await getJson(`${orch.url}/v1/modules`).catch(() => {});
        polls++;
        await sleep(100);
      }
    })();
    const names = minimalModules(MODULES).map((m) => m.name);
    let next = 0;
    const end = soakStart + soakMs;
    let lastAction = performance.now();
    while (performance.now() < end) {
      await sleep(1000);
      samples.push({ t: performance.now() - soakStart, rss: rssMiB(orch.pid) });
      if (performance.now() - lastAction >= (ctx.quick ? 4000 : 10_000)) {
        lastAction = performance.now();
        const name = names[next++ % names.length];
        try {
          if (next % 2 === 1) {
            const m = (await listModules(orch.url)).find((x) => x.name === name);
            if (m?.pid) {
              Deno.kill(m.pid, "SIGKILL");
              kills++;
            }
          } else {
            const r = await postJson(`${orch.url}/v1/modules/${name}:restart`, {});
            if (r.status === 200) restarts++;
            else failures++;
          }
        } catch {
          failures++; // Not running right now, or the request timed out.
        }
      }
    }
    abort.abort();
    // Bounded: a request that never ends must not hold the run.
    await within(poller, 10_000, undefined);
    const sse = await within(events.status, 10_000, "the SSE stream did not end after abort");
    const at = (from: number, to: number) =>
      median(samples.filter((s) => s.t >= from * soakMs && s.t <= to * soakMs).map((s) => s.rss));
    const early = at(0.25, 0.35);
    const late = at(0.9, 1);
    const growth = ((late - early) / early) * 100;
    const ready = (await listModules(orch.url)).filter((m) => m.state.endsWith("READY")).length;
    ctx.log(
      `soak ${(soakMs / 60_000).toFixed(1)} min: RSS ${early.toFixed(1)} -> ${
        late.toFixed(1)
      } MiB ` +
        `(${growth.toFixed(1)}%), ${kills} kills, ${restarts} restarts, ${polls} polls, ` +
        `${events.count()} SSE events (${sse}), ${ready}/${MODULES + 1} READY at the end, ` +
        `${failures} failed actions`,
    );
    result.note = `soak ${(soakMs / 60_000).toFixed(1)} min: ${kills} kill -9, ${restarts} API ` +
      `restarts, ~80 events/s from one module, ${events.count()} events streamed over SSE ` +
      `(${sse}), ${polls} GET /v1/modules`;
    result.metrics.push(
      metric("RSS at the end of the soak", late, "MiB", {
        baseline: "idle",
        baselineValue: idle,
        digits: 1,
      }),
      metric("RSS growth during the soak", growth, "%", {
        targets: [{ op: "<=", value: 5 }],
        note: "median of the last 10% vs median of 25-35% of the soak",
        digits: 1,
      }),
    );
  } finally {
    await orch.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  return [result];
}
