/**
 * Shared helpers of the benchmarks: processes started in their own process groups and
 * always stopped, the orchestrator started from source on kernel-chosen ports, generated
 * module directories, the wrk runner and its parser, percentiles, RSS, and the external
 * tools (wrk, supervisord, pm2) installed when missing.
 */
import { fileURLToPath } from "node:url";
import { readLines } from "../../src/log/lines.ts";

/** The repository root, with a trailing slash. */
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** This directory, with a trailing slash. */
export const BENCH_DIR = fileURLToPath(new URL("./", import.meta.url));
/** The SDK module every benchmark runs (modes picked by BENCH_MODE). */
export const BENCH_MODULE = `${BENCH_DIR}bench_module.ts`;
/** Where npm tools are installed, outside the repository. */
export const TOOLS_DIR = `${Deno.env.get("HOME") ?? "/tmp"}/.cache/callassistant-bench`;
/** The Deno running the benchmarks (and everything they start). */
export const DENO = Deno.execPath();

// ---------------------------------------------------------------------------------------
// Small utilities

/** Sleeps `ms` milliseconds. */
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The `p`-th percentile (0-100) of `values` (nearest rank); NaN when empty. */
export function percentile(values: ArrayLike<number>, p: number): number {
  if (values.length === 0) return NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** The median of `values`. */
export const median = (values: ArrayLike<number>) => percentile(values, 50);

/** Rounds to `digits` decimals. */
export function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** `promise`, or `fallback` when it has not settled within `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<T>((resolve) => timer = setTimeout(() => resolve(fallback), ms)),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `fn` every `intervalMs` until it returns a truthy value; throws after `timeoutMs`. */
export async function waitFor<T>(
  fn: () => T | Promise<T>,
  what: string,
  timeoutMs = 30_000,
  intervalMs = 20,
): Promise<NonNullable<T>> {
  const deadline = performance.now() + timeoutMs;
  let last: unknown;
  while (performance.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last}` : ""}`);
}

/** A free TCP port on 127.0.0.1 (the kernel's choice; free when this returns). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** True when something accepts TCP connections on 127.0.0.1:`port`. */
export async function portAnswers(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

/** The resident set size of a process in MiB (VmRSS), or NaN when it is gone. */
export function rssMiB(pid: number): number {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** True when the process exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const state = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** Samples a process's RSS every `intervalMs` until stopped; returns the samples. */
export function sampleRss(pid: number, intervalMs = 250): { stop(): number[] } {
  const samples: number[] = [];
  const take = () => {
    const v = rssMiB(pid);
    if (!Number.isNaN(v)) samples.push(v);
  };
  take();
  const timer = setInterval(take, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      take();
      return samples;
    },
  };
}

/** Runs a command to completion and returns its output; throws on a non-zero exit. */
export async function run(
  cmd: string,
  args: string[],
  options: { env?: Record<string, string>; cwd?: string; allowFail?: boolean } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(cmd, {
    args,
    env: options.env,
    cwd: options.cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const result = {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
  if (out.code !== 0 && !options.allowFail) {
    throw new Error(`${cmd} ${args.join(" ")} exited with ${out.code}: ${result.stderr.trim()}`);
  }
  return result;
}

/** A command found on PATH, or undefined. */
export async function which(name: string): Promise<string | undefined> {
  const r = await run("sh", ["-c", `command -v ${name}`], { allowFail: true });
  return r.code === 0 ? r.stdout.trim() : undefined;
}

// ---------------------------------------------------------------------------------------
// Processes: each in its own process group, all stopped at the end.

/** A process started by the benchmarks. */
export interface Proc {
  readonly pid: number;
  readonly child: Deno.ChildProcess;
  readonly status: Promise<Deno.CommandStatus>;
  /** Lines of stdout/stderr when captured with `lines: true`. */
  readonly output: string[];
  /** Sends `signal` to the whole process group; ignores a group already gone. */
  signal(signal: Deno.Signal): void;
  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves once the leader is gone. */
  stop(graceMs?: number): Promise<Deno.CommandStatus>;
}

const live = new Set<Proc>();

/** Options of {@link spawn}. */
export interface SpawnOptions {
  env?: Record<string, string>;
  cwd?: string;
  /** "piped" keeps stdin open (SDK modules exit when it closes). Default "null". */
  stdin?: "piped" | "null";
  /** Keep stdout/stderr lines in `output` (default: discarded). */
  lines?: boolean;
  /** Called with each stderr line (and its arrival time, performance.now()). */
  onStderr?: (line: string, at: number) => void;
  /** Called with each stdout line. */
  onStdout?: (line: string, at: number) => void;
}

/** Spawns a process as the leader of a new process group and tracks it. */
export function spawn(cmd: string, args: string[], options: SpawnOptions = {}): Proc {
  const wantOut = options.lines || options.onStdout;
  const wantErr = options.lines || options.onStderr;
  const child = new Deno.Command(cmd, {
    args,
    env: options.env,
    cwd: options.cwd,
    stdin: options.stdin ?? "null",
    stdout: wantOut ? "piped" : "null",
    stderr: wantErr ? "piped" : "null",
    detached: true,
  }).spawn();
  const output: string[] = [];
  const keep = (line: string) => {
    if (options.lines && output.length < 10_000) output.push(line);
  };
  if (wantOut) {
    readLines(child.stdout, (l) => {
      keep(l);
      options.onStdout?.(l, performance.now());
    }).catch(() => {});
  }
  if (wantErr) {
    readLines(child.stderr, (l) => {
      keep(l);
      options.onStderr?.(l, performance.now());
    }).catch(() => {});
  }
  const pid = child.pid;
  const proc: Proc = {
    pid,
    child,
    status: child.status,
    output,
    signal(signal) {
      try {
        Deno.kill(-pid, signal);
      } catch {
        // Gone already.
      }
    },
    async stop(graceMs = 10_000) {
      proc.signal("SIGTERM");
      let timer: ReturnType<typeof setTimeout> | undefined;
      const killed = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          proc.signal("SIGKILL");
          resolve();
        }, graceMs);
      });
      await Promise.race([child.status, killed]);
      const status = await child.status;
      clearTimeout(timer);
      // Whatever is left of the group goes too.
      proc.signal("SIGKILL");
      if (options.stdin === "piped") await child.stdin.close().catch(() => {});
      live.delete(proc);
      return status;
    },
  };
  live.add(proc);
  child.status.then(() => {
    // The leader is gone; its group may not be: stop() or cleanup() kills it.
  });
  return proc;
}

/** Extra process groups to kill at the end (module pids the orchestrator started). */
const extraGroups = new Set<number>();

/** Registers a process group (e.g. a module started by the orchestrator) for cleanup. */
export function trackGroup(pgid: number): void {
  extraGroups.add(pgid);
}

/** Kills every process group the benchmarks started. Safe to call more than once. */
export async function cleanup(): Promise<void> {
  await Promise.allSettled([...live].map((p) => p.stop(3_000)));
  for (const g of extraGroups) {
    try {
      Deno.kill(-g, "SIGKILL");
    } catch {
      // Gone already.
    }
  }
  extraGroups.clear();
}

// ---------------------------------------------------------------------------------------
// The orchestrator, from source

/** One JSON log line of the orchestrator with the time it arrived. */
export interface LogLine {
  at: number;
  line: Record<string, unknown>;
}

/** A running orchestrator under benchmark. */
export interface BenchOrchestrator {
  proc: Proc;
  pid: number;
  /** http://127.0.0.1:PORT */
  url: string;
  httpPort: number;
  grpcAddress: string;
  /** performance.now() when the process was spawned. */
  spawnedAt: number;
  logs: LogLine[];
  /** Waits for a log line matching `fn` that arrived after `since` (default: any). */
  waitForLog(
    fn: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
    since?: number,
  ): Promise<LogLine>;
  /** Calls `fn` for every later log line; returns a function that stops it. */
  onLog(fn: (l: LogLine) => void): () => void;
  /** Stops the orchestrator (SIGTERM: it stops its modules) and kills what is left. */
  stop(): Promise<void>;
}

/** Options of {@link startOrchestrator}. */
export interface OrchestratorOptions {
  /** The modules directory. */
  modules: string;
  /** Flags for `deno run` before main.ts (e.g. `--cpu-prof`). */
  denoFlags?: string[];
  /** Extra CLI flags. */
  args?: string[];
  /** Wait for the "orchestrator listening" line (default true). */
  waitListening?: boolean;
  /** Keep at most this many log lines (default 200 000). */
  maxLogs?: number;
  env?: Record<string, string>;
}

/**
 * Starts `deno run --allow-all main.ts run` on a free HTTP port and a kernel-chosen gRPC
 * port with JSON logs, and waits until it is listening.
 */
export async function startOrchestrator(options: OrchestratorOptions): Promise<BenchOrchestrator> {
  const data = await Deno.makeTempDir({ prefix: "ca-bench-data-" });
  const httpPort = freePort();
  const logs: LogLine[] = [];
  const maxLogs = options.maxLogs ?? 200_000;
  const listeners = new Set<(l: LogLine) => void>();
  const spawnedAt = performance.now();
  const proc = spawn(DENO, [
    "run",
    "--allow-all",
    ...(options.denoFlags ?? []),
    `${ROOT}main.ts`,
    "run",
    "--modules",
    options.modules,
    "--data",
    data,
    "--grpc",
    "127.0.0.1:0",
    "--http",
    `127.0.0.1:${httpPort}`,
    "--log-format",
    "json",
    ...(options.args ?? []),
  ], {
    env: options.env,
    onStderr: (text, at) => {
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text);
      } catch {
        line = { msg: text, raw: true };
      }
      if (line.msg === "module spawned" && typeof line.pid === "number") trackGroup(line.pid);
      const entry = { at, line };
      if (logs.length < maxLogs) logs.push(entry);
      for (const l of listeners) l(entry);
    },
  });
  const onLog = (fn: (l: LogLine) => void) => {
    listeners.add(fn);
    return () => listeners.delete(fn);
  };
  const waitForLog = (
    fn: (line: Record<string, unknown>) => boolean,
    timeoutMs = 60_000,
    since = -Infinity,
  ) =>
    new Promise<LogLine>((resolve, reject) => {
      const found = logs.find((l) => l.at >= since && fn(l.line));
      if (found) return resolve(found);
      let off = () => {};
      const timer = setTimeout(() => {
        off();
        reject(new Error(`no matching orchestrator log line within ${timeoutMs} ms`));
      }, timeoutMs);
      off = onLog((l) => {
        if (l.at >= since && fn(l.line)) {
          off();
          clearTimeout(timer);
          resolve(l);
        }
      });
    });
  const stop = async () => {
    await proc.stop(20_000);
    await Deno.remove(data, { recursive: true }).catch(() => {});
  };
  let grpcAddress = "";
  if (options.waitListening ?? true) {
    try {
      const listening = await Promise.race([
        waitForLog((l) => l.msg === "orchestrator listening", 60_000),
        proc.status.then((s) => {
          throw new Error(
            `orchestrator exited with ${s.code}: ${
              logs.slice(-5).map((l) => JSON.stringify(l.line)).join("\n")
            }`,
          );
        }),
      ]);
      grpcAddress = String(listening.line.grpc);
    } catch (err) {
      await stop();
      throw err;
    }
  }
  return {
    proc,
    pid: proc.pid,
    url: `http://127.0.0.1:${httpPort}`,
    httpPort,
    grpcAddress,
    spawnedAt,
    logs,
    waitForLog,
    onLog,
    stop,
  };
}

/** True for the log line saying `module` (or any module) became `state`. */
export function stateLine(state: string, module?: string) {
  return (l: Record<string, unknown>) =>
    l.msg === "module state changed" && String(l.to).replace(/^MODULE_STATE_/, "") === state &&
    (module === undefined || l.module === module);
}

/** Waits until `count` distinct modules have logged READY; returns the last arrival time. */
export function waitAllReady(
  orch: BenchOrchestrator,
  count: number,
  timeoutMs = 120_000,
  since = -Infinity,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const ready = new Set<string>();
    let last = 0;
    const isReady = stateLine("READY");
    const check = (l: LogLine) => {
      if (l.at < since || !isReady(l.line)) return;
      ready.add(String(l.line.module));
      last = Math.max(last, l.at);
      if (ready.size >= count) {
        off();
        clearTimeout(timer);
        resolve(last);
      }
    };
    const off = orch.onLog(check);
    const timer = setTimeout(() => {
      off();
      reject(new Error(`only ${ready.size} of ${count} modules READY after ${timeoutMs} ms`));
    }, timeoutMs);
    for (const l of [...orch.logs]) check(l);
  });
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

/** The status and body of a response: JSON when it parses, else the text. */
async function reply(res: Response): Promise<{ status: number; body: unknown }> {
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON.
  }
  return { status: res.status, body };
}

/** GETs JSON from the orchestrator's gateway. */
export async function getJson(url: string): Promise<{ status: number; body: unknown }> {
  return reply(await fetch(url, { signal: AbortSignal.timeout(15_000) }));
}

/** POSTs JSON to the gateway. */
export async function postJson(
  url: string,
  payload: unknown,
): Promise<{ status: number; body: unknown }> {
  return reply(
    await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(payload),
      signal: AbortSignal.timeout(30_000),
    }),
  );
}

/** A module as GET /v1/modules returns it. */
export interface ModuleJson {
  name: string;
  state: string;
  pid: number;
  grpcPort: number;
  restarts: number;
}

/** GET /v1/modules. */
export async function listModules(url: string): Promise<ModuleJson[]> {
  const { body } = await getJson(`${url}/v1/modules`);
  return (body as { modules: ModuleJson[] }).modules;
}

// ---------------------------------------------------------------------------------------
// Module directories

/** Options of a generated module. */
export interface ModuleSpec {
  name: string;
  /** BENCH_MODE of bench_module.ts (default "minimal"). */
  mode?: string;
  env?: Record<string, string>;
  /** More manifest YAML (e.g. a restart policy). */
  extra?: string;
  /** Run this program instead of bench_module.ts (argv after `deno run --allow-all`). */
  program?: string;
}

/** Writes `dir/<name>/module.yaml` for each spec. */
export async function writeModules(dir: string, specs: ModuleSpec[]): Promise<void> {
  for (const s of specs) {
    await Deno.mkdir(`${dir}/${s.name}`, { recursive: true });
    const env = { BENCH_MODE: s.mode ?? "minimal", ...s.env };
    const envYaml = Object.entries(env).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(", ");
    await Deno.writeTextFile(
      `${dir}/${s.name}/module.yaml`,
      `name: ${s.name}\nversion: "1.0.0"\n` +
        `command: ["deno", "run", "--allow-all", ${JSON.stringify(s.program ?? BENCH_MODULE)}]\n` +
        `env: { ${envYaml} }\n${s.extra ?? ""}`,
    );
  }
}

/** A fresh temporary modules directory with the given modules. */
export async function modulesDir(specs: ModuleSpec[]): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "ca-bench-modules-" });
  await writeModules(dir, specs);
  return dir;
}

/** `count` minimal SDK modules named `prefix-0`... */
export function minimalModules(count: number, prefix = "m", extra = ""): ModuleSpec[] {
  return Array.from({ length: count }, (_, i) => ({ name: `${prefix}-${i}`, extra }));
}

/** Runs a program once so Deno has compiled and cached its module graph. */
export async function warmCache(...files: string[]): Promise<void> {
  await run(DENO, ["cache", ...files], { allowFail: true });
}

// ---------------------------------------------------------------------------------------
// Load generators

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

// ---------------------------------------------------------------------------------------
// External tools

let toolsChecked: Promise<void> | undefined;

/**
 * Makes sure wrk and supervisord (Debian) and pm2 (npm, into TOOLS_DIR) are present:
 * installs the missing ones (apt-get only as root).
 */
export function ensureTools(log: (line: string) => void): Promise<void> {
  toolsChecked ??= (async () => {
    const missingApt: string[] = [];
    if (!(await which("wrk"))) missingApt.push("wrk");
    if (!(await which("supervisord"))) missingApt.push("supervisor");
    if (missingApt.length > 0) {
      const root = (await run("id", ["-u"])).stdout.trim() === "0";
      if (!root) {
        throw new Error(
          `missing ${missingApt.join(", ")}: run "sudo apt-get install -y ${missingApt.join(" ")}"`,
        );
      }
      log(`installing ${missingApt.join(", ")} with apt-get`);
      const env = { ...Deno.env.toObject(), DEBIAN_FRONTEND: "noninteractive" };
      await run("apt-get", ["update", "-qq"], { env, allowFail: true });
      await run("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...missingApt], {
        env,
      });
    }
    if (!(await exists(pm2Path()))) {
      log(`installing pm2 with npm into ${TOOLS_DIR}`);
      await Deno.mkdir(TOOLS_DIR, { recursive: true });
      await run("npm", [
        "install",
        "--prefix",
        TOOLS_DIR,
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
        "pm2@6",
      ]);
    }
  })();
  return toolsChecked;
}

/** The pm2 executable in TOOLS_DIR. */
export function pm2Path(): string {
  return `${TOOLS_DIR}/node_modules/.bin/pm2`;
}

/** True when `path` exists. */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------
// Raw module probes

/** One HealthCheck to a module on 127.0.0.1:`port` with a raw grpc-js client (fresh channel). */
export async function healthCheck(port: number, timeoutMs = 2000): Promise<void> {
  const grpc = await import("@grpc/grpc-js");
  const { ModuleService } = await import("@callassistant/protocol");
  const { create, toBinary, fromBinary } = await import("@bufbuild/protobuf");
  const { Buffer } = await import("node:buffer");
  const method = ModuleService.method.healthCheck;
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
    "grpc.initial_reconnect_backoff_ms": 10,
  });
  try {
    await new Promise<void>((resolve, reject) =>
      client.makeUnaryRequest(
        `/${ModuleService.typeName}/${method.name}`,
        () => Buffer.from(toBinary(method.input, create(method.input, {}))),
        (b: Uint8Array) => fromBinary(method.output, b),
        {},
        new grpc.Metadata({ waitForReady: true }),
        { deadline: Date.now() + timeoutMs },
        (err) => err ? reject(err) : resolve(),
      )
    );
  } finally {
    client.close();
  }
}

/**
 * Starts `count` minimal SDK modules directly (no orchestrator) in parallel, as the
 * orchestrator would (own process group, stdin a pipe, GRPC_PORT set), and resolves with
 * the time from the first spawn until every one has answered a HealthCheck. The modules
 * are stopped afterwards.
 */
export async function startModulesDirectly(count: number, mode = "minimal"): Promise<number> {
  const procs: Proc[] = [];
  // Distinct ports: every listener stays open until all are picked.
  const ports = () => {
    const listeners = Array.from(
      { length: count },
      () => Deno.listen({ hostname: "127.0.0.1", port: 0 }),
    );
    const list = listeners.map((l) => (l.addr as Deno.NetAddr).port);
    listeners.forEach((l) => l.close());
    return list;
  };
  const picked = ports();
  let stopping = false;
  const startOne = (i: number, port: number, retry: boolean): Promise<void> => {
    let listening: () => void;
    const up = new Promise<void>((r) => listening = r);
    const proc = spawn(DENO, ["run", "--allow-all", BENCH_MODULE], {
      env: {
        ...Deno.env.toObject(),
        GRPC_PORT: String(port),
        MODULE_NAME: `direct-${i}`,
        BENCH_MODE: mode,
      },
      stdin: "piped",
      onStderr: (line) => {
        if (line.startsWith("listening on")) listening();
      },
    });
    procs.push(proc);
    let answered = false;
    return Promise.race([
      up.then(() => healthCheck(port)).then(() => {
        answered = true;
      }),
      proc.status.then((s) => {
        if (answered || stopping) return;
        // Another process of the machine took the port in between: once more, elsewhere.
        if (retry) return startOne(i, freePort(), false);
        throw new Error(`module exited with ${s.code} before listening on ${port}`);
      }),
    ]);
  };
  const t0 = performance.now();
  try {
    await Promise.all(picked.map((port, i) => startOne(i, port, true)));
    return performance.now() - t0;
  } finally {
    stopping = true;
    await Promise.all(procs.map((p) => p.stop(3000)));
  }
}

/** CPU seconds (user + system, all threads) a process has used so far; NaN when gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the command name.
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/** Measures the CPU share (1 = one core) of each pid, and of the machine, while `fn` runs. */
export async function cpuDuring<T>(
  pids: Record<string, number>,
  fn: () => Promise<T>,
): Promise<{ result: T; cpu: Record<string, number> }> {
  const before = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, cpuSeconds(p)]));
  const m0 = machineTicks();
  const t0 = performance.now();
  const result = await fn();
  const seconds = (performance.now() - t0) / 1000;
  const m1 = machineTicks();
  const cpu = Object.fromEntries(
    Object.entries(pids).map(([k, p]) => [k, (cpuSeconds(p) - before[k]) / seconds]),
  );
  // The whole machine, in cores (everything: the load generator, other processes).
  cpu.machine = ((m1.busy - m0.busy) / (m1.total - m0.total)) * navigator.hardwareConcurrency;
  return { result, cpu };
}

/** Busy and total CPU time of the whole machine so far, in clock ticks (/proc/stat). */
export function machineTicks(): { busy: number; total: number } {
  const line = Deno.readTextFileSync("/proc/stat").split("\n")[0];
  const n = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = n[3] + (n[4] ?? 0);
  const total = n.reduce((s, x) => s + x, 0);
  return { busy: total - idle, total };
}
