/**
 * Load generators: wrk (and its output parser), bench scripts run in their own process
 * (`runScript`, `spawnListening`), and runs combined into one result.
 */
import { DENO, type Proc, run, spawn } from "../../tests/helpers/processes.ts";
import { BENCH_DIR } from "./module_dirs.ts";
import { median } from "./stats.ts";

/** What a load run measured. */
export interface LoadResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  /** Socket errors, timeouts and non-2xx answers. */
  errors: number;
  /** CPU share (1 = one core) of the processes watched during the run. */
  cpu?: Record<string, number>;
}

/** Several runs of the same load as one: summed throughput, median percentiles. */
export function combine(runs: LoadResult[]): LoadResult {
  const mid = (f: (r: LoadResult) => number) => median(runs.map(f));
  const cpu: Record<string, number> = {};
  for (const k of Object.keys(runs[0]?.cpu ?? {})) cpu[k] = mid((r) => r.cpu?.[k] ?? NaN);
  return {
    requestsPerSecond: mid((r) => r.requestsPerSecond),
    p50Ms: mid((r) => r.p50Ms),
    p99Ms: mid((r) => r.p99Ms),
    requests: runs.reduce((s, r) => s + r.requests, 0),
    errors: runs.reduce((s, r) => s + r.errors, 0),
    cpu,
  };
}

function parseDurationMs(text: string): number {
  const m = /^([0-9.]+)(us|ms|s|m)$/.exec(text.trim());
  if (!m) return NaN;
  const unit = { us: 0.001, ms: 1, s: 1000, m: 60_000 }[m[2] as "us" | "ms" | "s" | "m"];
  return Number(m[1]) * unit;
}

/** Parses `wrk --latency` output. */
export function parseWrk(output: string): LoadResult {
  const rps = /Requests\/sec:\s+([0-9.]+)/.exec(output);
  const p50 = /^\s+50%\s+(\S+)/m.exec(output);
  const p99 = /^\s+99%\s+(\S+)/m.exec(output);
  const total = /(\d+) requests in/.exec(output);
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(output);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(
    output,
  );
  if (!rps || !p50 || !p99 || !total) throw new Error(`cannot parse wrk output:\n${output}`);
  const socketErrors = socket ? socket.slice(1).reduce((s, n) => s + Number(n), 0) : 0;
  return {
    requestsPerSecond: Number(rps[1]),
    p50Ms: parseDurationMs(p50[1]),
    p99Ms: parseDurationMs(p99[1]),
    requests: Number(total[1]),
    errors: socketErrors + (non2xx ? Number(non2xx[1]) : 0),
  };
}

/** Runs wrk against `url` with `connections` for `seconds` (one wrk thread). */
export async function wrk(
  url: string,
  connections: number,
  seconds: number,
  threads = 1,
): Promise<LoadResult> {
  const r = await run("wrk", [
    `-t${threads}`,
    `-c${connections}`,
    `-d${seconds}s`,
    "--timeout",
    "5s",
    "--latency",
    url,
  ]);
  return parseWrk(r.stdout);
}

/** Runs `scripts/bench/<script>` in its own Deno process and parses its JSON stdout. */
export async function runScript<T>(script: string, config: unknown, timeoutMs: number): Promise<T> {
  const proc = spawn(
    DENO,
    ["run", "--allow-all", `${BENCH_DIR}${script}`, JSON.stringify(config)],
    {
      lines: true,
    },
  );
  const timer = setTimeout(() => proc.signal("SIGKILL"), timeoutMs);
  const status = await proc.status;
  clearTimeout(timer);
  await proc.stop(1000);
  const last = [...proc.output].reverse().find((l) => l.startsWith("{"));
  if (!status.success || !last) {
    throw new Error(`${script} failed (${status.code}): ${proc.output.slice(-5).join("\n")}`);
  }
  return JSON.parse(last) as T;
}

/**
 * Runs a bench script (`deno run -A script ...args`) that prints "listening <port>" once
 * it serves; resolves with the process and the port, or rejects if it exits first.
 */
export async function spawnListening(
  script: string,
  args: string[] = [],
): Promise<{ proc: Proc; port: number }> {
  let resolvePort: (port: number) => void;
  const port = new Promise<number>((r) => resolvePort = r);
  const proc = spawn(DENO, ["run", "--allow-all", script, ...args], {
    onStdout: (line) => {
      const m = /^listening (\d+)/.exec(line);
      if (m) resolvePort(Number(m[1]));
    },
  });
  const p = await Promise.race([
    port,
    proc.status.then(() => {
      throw new Error(`${script.split("/").pop()} exited before listening`);
    }),
  ]);
  return { proc, port: p };
}
