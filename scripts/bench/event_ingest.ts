/**
 * Event ingest:
 * - Connect: one SDK module reports events as fast as acknowledgements come back (1024
 *   in flight) over the EventService `Connect` stream: events acknowledged per second,
 *   against a bare grpc-js client streaming the same messages to a bare grpc-js server
 *   that acknowledges each one (same window);
 * - unary ReportEvent at 64 in flight (the same raw grpc-js load client, with the module's
 *   token, against the orchestrator and against the bare server);
 * - latency from a module's report to an SSE subscriber of `GET /v1/events` (50 events/s,
 *   each carrying its send time), against a bare grpc-js unary round trip.
 * The orchestrator runs as `main.ts run --event-rate 1000000`: the per-module flood limit
 * (100 events/s by default) raised out of the way.
 */
import { ROOT } from "../../tests/helpers/test_orchestrator.ts";
import { DENO, spawn } from "../../tests/helpers/processes.ts";
import { sleep, waitFor, within } from "../../tests/helpers/wait.ts";
import { startOrchestrator, waitAllReady } from "./bench_orchestrator.ts";
import { combine, type LoadResult, runScript, spawnListening } from "./load.ts";
import { BENCH_DIR, BENCH_MODULE, modulesDir, warmCache } from "./module_dirs.ts";
import { median, percentile } from "./stats.ts";
import { type BenchResult, metric } from "./report.ts";
import type { BenchContext } from "./context.ts";

const WINDOW = 1024;
const UNARY_IN_FLIGHT = 64;

interface StreamResult {
  eventsPerSecond: number;
  acked: number;
  errors?: number;
  failed?: number;
}

async function startRawServer(): Promise<{ address: string; stop: () => Promise<unknown> }> {
  const { proc, port } = await spawnListening(`${BENCH_DIR}raw_events.ts`, ["server"]);
  return { address: `127.0.0.1:${port}`, stop: () => proc.stop(2000) };
}

/** Follows GET /v1/events as SSE; collects the latency of `bench.tick` events. */
function sseLatencies(
  url: string,
  signal: AbortSignal,
): { latencies: number[]; status: Promise<string> } {
  const latencies: number[] = [];
  const status = (async () => {
    try {
      const res = await fetch(`${url}/v1/events`, {
        headers: { accept: "text/event-stream" },
        signal,
      });
      if (res.status !== 200) {
        const text = await res.text();
        return `GET /v1/events answered ${res.status}: ${text.slice(0, 150)}`;
      }
      const decoder = new TextDecoder();
      let buffer = "";
      // Cancelled by hand: aborting the fetch does not always end a pending read.
      const reader = res.body!.getReader();
      signal.addEventListener("abort", () => reader.cancel().catch(() => {}), { once: true });
      while (true) {
        const { value: chunk, done } = await reader.read();
        if (done) return signal.aborted ? "ok" : "ended";
        const now = performance.timeOrigin + performance.now();
        buffer += decoder.decode(chunk, { stream: true });
        const lines = buffer.split("\n");
        buffer = lines.pop()!;
        for (const line of lines) {
          if (!line.startsWith("data: ") || !line.includes("bench.tick")) continue;
          const m = /"sentAt":\s*([0-9.e+]+)/.exec(line);
          if (m) latencies.push(now - Number(m[1]));
        }
      }
    } catch (err) {
      return signal.aborted ? "ok" : `failed: ${(err as Error).message}`;
    }
  })();
  return { latencies, status };
}

/** Runs the event benchmarks. */
export async function eventsBench(ctx: BenchContext): Promise<BenchResult[]> {
  await warmCache(
    `${ROOT}main.ts`,
    BENCH_MODULE,
    `${BENCH_DIR}raw_events.ts`,
    `${BENCH_DIR}grpc_load.ts`,
  );
  const seconds = ctx.seconds.load;
  const result: BenchResult = { name: "events", title: "Event ingest", status: "ok", metrics: [] };
  const work = await Deno.makeTempDir({ prefix: "ca-bench-events-" });
  const flood = `${work}/flood.json`;
  const dir = await modulesDir([
    { name: "flood", mode: "flood", env: { BENCH_RESULT: flood } },
    { name: "ticker", mode: "ticker", env: { BENCH_EVENT_RATE: "50" } },
  ]);
  const raw = await startRawServer();
  const orch = await startOrchestrator({
    modules: dir,
    args: ["--event-rate", "1000000"],
    denoFlags: ctx.profileDir ? ["--cpu-prof", `--cpu-prof-dir=${ctx.profileDir}`] : [],
  });
  let round = 0;
  /** One round of the flood module (or closes its reporter with `close`). */
  /**
   * Runs a bare client script as the flood module's own child: the orchestrator accepts
   * the module's token only from the module's processes. Its last JSON line.
   */
  const asModule = async <T>(script: string, ...args: string[]): Promise<T> => {
    const { output } = await floodRound({
      exec: [DENO, "run", "--allow-all", `${BENCH_DIR}${script}`, ...args],
    }) as unknown as { output: string[] };
    const line = output.findLast((l) => l.startsWith("{"));
    if (!line) throw new Error(`${script} failed: ${output.slice(-3).join(" | ")}`);
    return JSON.parse(line) as T;
  };
  const floodRound = async (go: Record<string, unknown>): Promise<StreamResult> => {
    const n = round++;
    await Deno.writeTextFile(`${flood}.go.${n}`, JSON.stringify(go));
    return JSON.parse(
      await waitFor(
        () => Deno.readTextFile(`${flood}.${n}`).catch(() => ""),
        (seconds + 60) * 1000,
        "the flood module's result",
      ),
    );
  };
  try {
    await waitAllReady(orch, 2);
    const token = await waitFor(
      () => Deno.readTextFile(`${flood}.token`).catch(() => ""),
      30_000,
      "the flood module's token",
    );
    const runs = {
      rawStream: [] as StreamResult[],
      sdk: [] as StreamResult[],
      rawUnary: [] as LoadResult[],
      unary: [] as LoadResult[],
    };
    // Interleaved rounds: bare grpc-js, then the same load through the orchestrator.
    for (let r = 0; r < ctx.rounds; r++) {
      const warmup = r === 0 && !ctx.quick ? 1 : 0.5;
      runs.rawStream.push(await streamClient(raw.address, seconds, "", warmup));
      runs.sdk.push(await floodRound({ seconds, window: WINDOW, warmup }));
      runs.rawUnary.push(await unaryLoad(raw.address, "", UNARY_IN_FLIGHT, seconds, warmup));
      runs.unary.push(
        await asModule<LoadResult>(
          "grpc_load.ts",
          JSON.stringify(unaryConfig(orch.grpcAddress, token, UNARY_IN_FLIGHT, seconds, warmup)),
        ),
      );
    }
    const mid = (list: StreamResult[]) => median(list.map((x) => x.eventsPerSecond));
    const rawStream = mid(runs.rawStream);
    const sdkRate = mid(runs.sdk);
    const failed = runs.sdk.reduce((s, x) => s + (x.failed ?? 0), 0);
    ctx.log(
      `Connect: SDK module ${sdkRate.toFixed(0)} events/s (${failed} failed); raw ${
        rawStream.toFixed(0)
      }/s`,
    );
    result.metrics.push(
      metric("Connect: events acknowledged/s (SDK module)", sdkRate, "events/s", {
        baseline: "raw grpc-js stream",
        baselineValue: rawStream,
        targets: [{ op: ">=", value: 30_000 }, { op: ">=", value: 0.7, of: "ratio" }],
      }),
    );
    if (failed) result.note = `${failed} reports failed during the Connect runs`;

    // The baseline's own client, as the module (its token), against the orchestrator: the
    // server side alone. The SDK module leaves the stream to it.
    await floodRound({ close: true });
    const direct = await asModule<StreamResult>(
      "raw_events.ts",
      "stream",
      JSON.stringify({
        address: orch.grpcAddress,
        seconds,
        window: WINDOW,
        token,
        warmup: ctx.quick ? 0.5 : 1,
      }),
    );
    ctx.log(`Connect via raw client: ${direct.eventsPerSecond.toFixed(0)} events/s`);
    result.metrics.push(
      metric("Connect: events acknowledged/s (raw client)", direct.eventsPerSecond, "events/s", {
        baseline: "raw grpc-js stream",
        baselineValue: rawStream,
        note: "the baseline's own client against the orchestrator: its server side alone",
      }),
    );

    const rawUnary = combine(runs.rawUnary);
    const unary = combine(runs.unary);
    ctx.log(
      `unary ReportEvent: ${unary.requestsPerSecond.toFixed(0)}/s, p99 ${unary.p99Ms} ms; raw ${
        rawUnary.requestsPerSecond.toFixed(0)
      }/s`,
    );
    result.metrics.push(
      metric(
        `unary ReportEvent/s at ${UNARY_IN_FLIGHT} in flight`,
        unary.requestsPerSecond,
        "events/s",
        {
          baseline: "raw grpc-js unary",
          baselineValue: rawUnary.requestsPerSecond,
        },
      ),
      metric("unary ReportEvent p99", unary.p99Ms, "ms", {
        baseline: "raw grpc-js unary",
        baselineValue: rawUnary.p99Ms,
        digits: 3,
      }),
    );

    // Report to SSE: the ticker reports 50 events/s with their send time.
    const rawRtt = await unaryLoad(raw.address, "", 1, ctx.quick ? 2 : 3);
    const abort = new AbortController();
    const sse = sseLatencies(orch.url, abort.signal);
    await sleep(Math.max(3, seconds) * 1000);
    abort.abort();
    const sseStatus = await within(sse.status, 10_000, "the SSE stream did not end after abort");
    if (sse.latencies.length === 0) {
      result.metrics.push(metric("report to SSE p50", null, "ms", { note: sseStatus }));
      result.note = `${result.note ? `${result.note}; ` : ""}SSE: ${sseStatus}`;
    } else {
      ctx.log(
        `report to SSE: p50 ${
          percentile(sse.latencies, 50).toFixed(3)
        } ms over ${sse.latencies.length}`,
      );
      result.metrics.push(
        metric("report to SSE subscriber p50", percentile(sse.latencies, 50), "ms", {
          baseline: "raw grpc-js unary round trip p50",
          baselineValue: rawRtt.p50Ms,
          digits: 3,
        }),
        metric("report to SSE subscriber p99", percentile(sse.latencies, 99), "ms", {
          baseline: "raw grpc-js unary round trip p99",
          baselineValue: rawRtt.p99Ms,
          digits: 3,
        }),
      );
    }
    result.note = `${result.note ? `${result.note}; ` : ""}${WINDOW} reports in flight on ` +
      `Connect, ${ctx.rounds} x ${seconds} s interleaved with the baselines; SSE: ` +
      `${sse.latencies.length} events at 50/s; orchestrator flood limit raised`;
  } finally {
    await orch.stop();
    await raw.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
  return [result];
}

/** The bare grpc-js stream client (raw_events.ts stream) for `seconds`. */
async function streamClient(
  address: string,
  seconds: number,
  token = "",
  warmup = 1,
): Promise<StreamResult> {
  const proc = spawn(
    DENO,
    [
      "run",
      "--allow-all",
      `${BENCH_DIR}raw_events.ts`,
      "stream",
      JSON.stringify({ address, seconds, window: WINDOW, token, warmup }),
    ],
    { lines: true },
  );
  const timer = setTimeout(() => proc.signal("SIGKILL"), (seconds + 30) * 1000);
  await proc.status;
  clearTimeout(timer);
  await proc.stop(1000);
  const line = proc.output.findLast((l) => l.startsWith("{"));
  if (!line) throw new Error(`raw_events.ts stream failed: ${proc.output.slice(-3).join(" | ")}`);
  return JSON.parse(line);
}

/** grpc_load.ts on EventService.ReportEvent. */
function unaryConfig(
  address: string,
  token: string,
  concurrency: number,
  seconds: number,
  warmup = 1,
) {
  return {
    address,
    service: "EventService",
    method: "ReportEvent",
    request: { type: "bench.unary", message: "unary", severity: 2 },
    metadata: token ? { authorization: `Bearer ${token}` } : {},
    concurrency,
    seconds,
    warmupSeconds: warmup,
  };
}

function unaryLoad(
  address: string,
  token: string,
  concurrency: number,
  seconds: number,
  warmup = 1,
): Promise<LoadResult> {
  return runScript<LoadResult>(
    "grpc_load.ts",
    unaryConfig(address, token, concurrency, seconds, warmup),
    (seconds + 30) * 1000,
  );
}
