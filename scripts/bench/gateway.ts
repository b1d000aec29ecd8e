/**
 * Gateway benchmarks, all with wrk at 32 connections except the
 * raw grpc-js baseline (its own client at the same concurrency):
 * - gateway hop: a JSON request through the gateway that makes one RPC to a module (the
 *   test camera) and returns JSON, against a raw grpc-js client making the same module
 *   RPC, and a raw `Deno.serve` hello (the HTTP ceiling);
 * - gateway only: `GET /v1/modules` (no module call) against the raw `Deno.serve`.
 * The orchestrator's RSS is sampled during the hop load.
 */
import { ROOT } from "../../tests/helpers/test_orchestrator.ts";
import { waitFor } from "../../tests/helpers/wait.ts";
import { type BenchOrchestrator, startOrchestrator, waitAllReady } from "./bench_orchestrator.ts";
import { getJson, listModules, postJson } from "./gateway_http.ts";
import { combine, type LoadResult, runScript, spawnListening, wrk } from "./load.ts";
import { BENCH_DIR, modulesDir, warmCache } from "./module_dirs.ts";
import { cpuDuring, sampleRss } from "./resources.ts";
import { type BenchResult, metric } from "./report.ts";
import type { BenchContext } from "./context.ts";

const CONNECTIONS = 32;

/** The gateway route the hop benchmark loads, and the module RPC it makes. */
export interface HopTarget {
  /** What is measured, for the report. */
  description: string;
  /** The gateway path (GET). */
  path: string;
  /** The module RPC the gateway makes per request, for the raw grpc-js baseline. */
  grpc: { address: string; service: string; method: string; request: unknown };
}

/**
 * The hop target: `GET /v1/entities/{id}` (GetEntity, which reads the entity's live
 * status from its module's `GetEntityStatus`), on a test-camera entity created for the
 * benchmark. Returns why not when the gateway does not serve it.
 */
export async function hopTarget(orch: BenchOrchestrator): Promise<HopTarget | string> {
  const created = await postJson(`${orch.url}/v1/entities`, {
    entityType: "video_source",
    name: "bench camera",
  });
  if (created.status !== 200) {
    return `POST /v1/entities answered ${created.status}: ${JSON.stringify(created.body)}`;
  }
  const body = created.body as { id?: string; entity?: { id?: string } };
  const id = body.id ?? body.entity?.id;
  if (!id) return `POST /v1/entities returned no id: ${JSON.stringify(created.body)}`;
  const path = `/v1/entities/${encodeURIComponent(id)}`;
  const got = await getJson(`${orch.url}${path}`);
  if (got.status !== 200) return `GET ${path} answered ${got.status}: ${JSON.stringify(got.body)}`;
  const camera = (await listModules(orch.url)).find((m) => m.name === "test-camera");
  if (!camera?.grpcPort) return "the test camera has no gRPC port";
  return {
    description: `GET /v1/entities/{id} (GetEntity with live status: one GetEntityStatus RPC)`,
    path,
    grpc: {
      address: `127.0.0.1:${camera.grpcPort}`,
      service: "EntityService",
      method: "GetEntityStatus",
      request: { entityId: id },
    },
  };
}

/** Starts the raw Deno.serve hello server; returns its URL and a stop function. */
export async function startHello(): Promise<
  { url: string; pid: number; stop: () => Promise<unknown> }
> {
  const { proc, port: p } = await spawnListening(`${BENCH_DIR}hello_server.ts`);
  return { url: `http://127.0.0.1:${p}/`, pid: proc.pid, stop: () => proc.stop(2000) };
}

/** wrk with the CPU share of `pids` (and the machine) during the run. */
async function wrkCpu(url: string, seconds: number, pids: Record<string, number>) {
  const { result, cpu } = await cpuDuring(pids, () => wrk(url, CONNECTIONS, seconds));
  return { ...result, cpu };
}

/** CPU milliseconds per request of one process (share of a core / requests per second). */
function cpuMsPerRequest(r: LoadResult, who: string): number {
  return ((r.cpu?.[who] ?? NaN) / r.requestsPerSecond) * 1000;
}

/** Runs the gateway hop and gateway-only benchmarks. */
export async function gatewayBench(ctx: BenchContext): Promise<BenchResult[]> {
  await warmCache(
    `${ROOT}main.ts`,
    `${ROOT}tests/fixtures/simulators/test-camera/main.ts`,
    `${BENCH_DIR}grpc_load.ts`,
  );
  const hop: BenchResult = { name: "gateway-hop", title: "Gateway hop", status: "ok", metrics: [] };
  const only: BenchResult = {
    name: "gateway-only",
    title: "Gateway only",
    status: "ok",
    metrics: [],
  };
  const seconds = ctx.seconds.load;
  const warm = ctx.quick ? 1 : 2;

  const hello = await startHello();
  const dir = await modulesDir([{
    name: "test-camera",
    program: `${ROOT}tests/fixtures/simulators/test-camera/main.ts`,
  }]);
  const orch = await startOrchestrator({ modules: dir });
  try {
    await waitAllReady(orch, 1);
    await waitFor(
      async () => (await getJson(`${orch.url}/readyz`)).status === 200,
      30_000,
      "readyz",
    );
    const target = await hopTarget(orch);
    const camera = (await listModules(orch.url)).find((m) => m.name === "test-camera")!;
    const listUrl = `${orch.url}/v1/modules`;

    // Warm-up of every path (JIT), then interleaved rounds: a noisy moment hits all.
    await wrk(hello.url, CONNECTIONS, warm);
    await wrk(listUrl, CONNECTIONS, warm);
    if (typeof target !== "string") await wrk(`${orch.url}${target.path}`, CONNECTIONS, warm);
    const runs = {
      hello: [] as LoadResult[],
      list: [] as LoadResult[],
      grpc: [] as LoadResult[],
      hop: [] as LoadResult[],
    };
    const rss: number[] = [];
    for (let round = 0; round < ctx.rounds; round++) {
      runs.hello.push(await wrkCpu(hello.url, seconds, { server: hello.pid }));
      runs.list.push(await wrkCpu(listUrl, seconds, { orchestrator: orch.pid }));
      if (typeof target === "string") continue;
      runs.grpc.push(
        await runScript<LoadResult>("grpc_load.ts", {
          ...target.grpc,
          concurrency: CONNECTIONS,
          seconds,
          warmupSeconds: round === 0 ? warm : 0.5,
          watch: { module: camera.pid },
        }, (seconds + 30) * 1000),
      );
      const sampler = sampleRss(orch.pid);
      try {
        runs.hop.push(
          await wrkCpu(`${orch.url}${target.path}`, seconds, {
            orchestrator: orch.pid,
            module: camera.pid,
          }),
        );
      } finally {
        rss.push(...sampler.stop());
      }
    }
    const raw = combine(runs.hello);
    const list = combine(runs.list);
    ctx.log(`raw Deno.serve: ${raw.requestsPerSecond.toFixed(0)} req/s, p99 ${raw.p99Ms} ms`);
    ctx.log(`GET /v1/modules: ${list.requestsPerSecond.toFixed(0)} req/s, p99 ${list.p99Ms} ms`);
    only.note = `GET /v1/modules (1 module) vs a raw Deno.serve hello; wrk ${CONNECTIONS} ` +
      `connections, ${ctx.rounds} x ${seconds} s interleaved`;
    only.metrics.push(
      metric("GET /v1/modules requests/s", list.requestsPerSecond, "req/s", {
        baseline: "raw Deno.serve",
        baselineValue: raw.requestsPerSecond,
      }),
      metric("GET /v1/modules p50", list.p50Ms, "ms", {
        baseline: "raw Deno.serve",
        baselineValue: raw.p50Ms,
        digits: 3,
      }),
      metric("GET /v1/modules p99", list.p99Ms, "ms", {
        baseline: "raw Deno.serve",
        baselineValue: raw.p99Ms,
        digits: 3,
      }),
      metric("orchestrator CPU per request", cpuMsPerRequest(list, "orchestrator"), "ms", {
        baseline: "raw Deno.serve",
        baselineValue: cpuMsPerRequest(raw, "server"),
        digits: 3,
      }),
    );
    if (list.errors > 0) only.note += `; ${list.errors} errors`;

    if (typeof target === "string") {
      hop.status = "not available yet";
      hop.note = target;
      return [hop, only];
    }
    const grpc = combine(runs.grpc);
    const gw = combine(runs.hop);
    ctx.log(
      `raw grpc-js: ${grpc.requestsPerSecond.toFixed(0)} req/s, p99 ${grpc.p99Ms} ms, cpu ${
        JSON.stringify(grpc.cpu)
      }`,
    );
    ctx.log(
      `gateway hop: ${gw.requestsPerSecond.toFixed(0)} req/s, p99 ${gw.p99Ms} ms, cpu ${
        JSON.stringify(gw.cpu)
      }`,
    );
    hop.note = `${target.description}; wrk ${CONNECTIONS} connections vs a raw grpc-js client ` +
      `at ${CONNECTIONS} in flight, ${ctx.rounds} x ${seconds} s interleaved`;
    hop.metrics.push(
      metric("hop requests/s", gw.requestsPerSecond, "req/s", {
        baseline: "raw grpc-js",
        baselineValue: grpc.requestsPerSecond,
        targets: [{ op: ">=", value: 5000 }, { op: ">=", value: 0.7, of: "ratio" }],
      }),
      metric("hop requests/s vs HTTP ceiling", gw.requestsPerSecond, "req/s", {
        baseline: "raw Deno.serve",
        baselineValue: raw.requestsPerSecond,
      }),
      metric("hop p50", gw.p50Ms, "ms", {
        baseline: "raw grpc-js",
        baselineValue: grpc.p50Ms,
        digits: 3,
      }),
      metric("hop p99", gw.p99Ms, "ms", {
        baseline: "raw grpc-js",
        baselineValue: grpc.p99Ms,
        targets: [{ op: "<=", value: 10 }],
        digits: 3,
      }),
      metric("hop requests/s vs seed router", gw.requestsPerSecond, "req/s", {
        baseline: "seed router (documented)",
        baselineValue: 1000,
        targets: [{ op: ">=", value: 5, of: "ratio" }],
      }),
      metric("hop p99 vs seed router", gw.p99Ms, "ms", {
        baseline: "seed router (documented)",
        baselineValue: 50,
        targets: [{ op: "<=", value: 0.2, of: "ratio" }],
        digits: 3,
      }),
      metric("orchestrator CPU per hop request", cpuMsPerRequest(gw, "orchestrator"), "ms", {
        baseline: "raw grpc-js client",
        baselineValue: cpuMsPerRequest(grpc, "client"),
        digits: 3,
      }),
      metric("module CPU per request (hop)", cpuMsPerRequest(gw, "module"), "ms", {
        baseline: "raw grpc-js",
        baselineValue: cpuMsPerRequest(grpc, "module"),
        digits: 3,
      }),
      metric("machine CPU busy during hop", gw.cpu?.machine ?? null, "cores", {
        baseline: "raw grpc-js",
        baselineValue: grpc.cpu?.machine ?? null,
        note: "all processes, load generator and other tenants included",
      }),
      metric("orchestrator RSS peak under hop load", Math.max(...rss), "MiB", { digits: 1 }),
    );
    if (gw.errors > 0 || grpc.errors > 0) {
      hop.note += `; errors: gateway ${gw.errors}, grpc ${grpc.errors}`;
    }
    if (ctx.profileDir) await profiledHop(ctx, dir);
  } finally {
    await orch.stop();
    await hello.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  return [hop, only];
}

/**
 * A separate orchestrator with `--cpu-prof`, loaded with the hop for the load duration,
 * so the profile holds that load and little else.
 */
async function profiledHop(ctx: BenchContext, dir: string): Promise<void> {
  const orch = await startOrchestrator({
    modules: dir,
    denoFlags: ["--cpu-prof", `--cpu-prof-dir=${ctx.profileDir}`],
  });
  try {
    await waitAllReady(orch, 1);
    const target = await hopTarget(orch);
    if (typeof target === "string") return;
    const url = `${orch.url}${target.path}`;
    await wrk(url, CONNECTIONS, 1);
    const r = await wrk(url, CONNECTIONS, ctx.seconds.load * ctx.rounds);
    ctx.log(`profiled hop: ${r.requestsPerSecond.toFixed(0)} req/s (profiling slows it)`);
  } finally {
    await orch.stop();
  }
}
