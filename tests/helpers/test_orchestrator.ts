/**
 * Starts the real orchestrator (`deno run main.ts run`) on ports the kernel picks, reads
 * its JSON log lines, and stops it at the end: every test process is gone afterwards. The
 * benchmarks start theirs with the same function (`scripts/bench/bench_orchestrator.ts`).
 */
import { fileURLToPath } from "node:url";
import { groupMembers } from "../../src/supervisor/process_group.ts";
import { readLines } from "../../src/log/lines.ts";
import { DENO, spawn } from "./processes.ts";
import { waitFor } from "./wait.ts";

// Here too, for the tests that take them from this file.
export { isAlive } from "./processes.ts";
export { waitFor };

/** The repository root. */
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** A running orchestrator under test. */
export interface TestOrchestrator {
  /** Base URL of the HTTP gateway, e.g. "http://127.0.0.1:34567". */
  url: string;
  /** host:port of the gRPC server ("" with `waitListening: false`). */
  grpcAddress: string;
  pid: number;
  /** Every JSON log line so far (up to `maxLogs`). */
  logs: Record<string, unknown>[];
  /** Waits for a log line matching `fn`. */
  waitForLog(
    fn: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  /** Sends SIGTERM and waits for a clean exit; returns the exit status. */
  stop(): Promise<Deno.CommandStatus>;
  /** The process, for signals. */
  child: Deno.ChildProcess;
  /** performance.now() when the process was spawned. */
  spawnedAt: number;
}

/** Options for `startOrchestrator`. */
export interface StartOptions {
  /** The modules directory (absolute). */
  modules: string;
  /** Extra CLI arguments. */
  args?: string[];
  /** The data directory; a fresh temporary one by default. */
  data?: string;
  /** The main.ts to run; this repository's by default. */
  main?: string;
  /** Extra environment variables (the orchestrator passes its environment to modules). */
  env?: Record<string, string>;
  /** Flags for `deno run` before main.ts (e.g. `--cpu-prof`). */
  denoFlags?: string[];
  /** The HTTP listener's port; 0 (the kernel's choice) by default. */
  httpPort?: number;
  /**
   * Wait for the "orchestrator listening" line (default true). Without it, `url` is known
   * only with `httpPort`, and `grpcAddress` is empty.
   */
  waitListening?: boolean;
  /**
   * Run it as the leader of a process group of its own, which `stop` ends whole (SIGKILL
   * after `stopGraceMs`) and `cleanup()` of `processes.ts` ends at the latest; default: a
   * plain child, sent SIGTERM and waited for.
   */
  processGroup?: boolean;
  /** With `processGroup`: how long `stop` waits after SIGTERM (default 20 000 ms). */
  stopGraceMs?: number;
  /** Called with every log line and when it arrived (performance.now()). */
  onLog?: (line: Record<string, unknown>, at: number) => void;
  /** Keep at most this many log lines in `logs` (default: all). */
  maxLogs?: number;
}

/** Starts the orchestrator and waits until both listeners are up. */
export async function startOrchestrator(options: StartOptions): Promise<TestOrchestrator> {
  const data = options.data ?? await Deno.makeTempDir({ prefix: "ca-test-data-" });
  const args = [
    "run",
    "--allow-all",
    ...(options.denoFlags ?? []),
    options.main ?? `${ROOT}main.ts`,
    "run",
    "--modules",
    options.modules,
    "--data",
    data,
    "--grpc",
    "127.0.0.1:0",
    "--http",
    `127.0.0.1:${options.httpPort ?? 0}`,
    "--log-format",
    "json",
    ...(options.args ?? []),
  ];
  const logs: Record<string, unknown>[] = [];
  const maxLogs = options.maxLogs ?? Infinity;
  const waiters = new Set<() => void>();
  const onLine = (line: string, at: number) => {
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(line);
    } catch {
      parsed = { msg: line, raw: true };
    }
    if (logs.length < maxLogs) logs.push(parsed);
    options.onLog?.(parsed, at);
    for (const w of waiters) w();
  };
  const spawnedAt = performance.now();
  let child: Deno.ChildProcess;
  let end: () => Promise<Deno.CommandStatus>;
  if (options.processGroup) {
    const proc = spawn(DENO, args, { env: options.env, onStderr: onLine });
    child = proc.child;
    end = () => proc.stop(options.stopGraceMs ?? 20_000);
  } else {
    child = new Deno.Command(DENO, {
      args,
      env: options.env,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    readLines(child.stderr, (line) => onLine(line, performance.now()));
    let status: Deno.CommandStatus | undefined;
    child.status.then((s) => status = s);
    end = async () => {
      if (!status) child.kill("SIGTERM");
      return await child.status;
    };
  }
  const waitForLog = (fn: (l: Record<string, unknown>) => boolean, timeoutMs = 30_000) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const check = () => {
        const found = logs.find(fn);
        if (found) {
          waiters.delete(check);
          clearTimeout(timer);
          resolve(found);
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(
          new Error(
            `no matching log line in ${timeoutMs} ms; got:\n${
              logs.map((l) => JSON.stringify(l)).join("\n")
            }`,
          ),
        );
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  const stop = async () => {
    const s = await end();
    // A data directory made here is removed here; a caller's own stays.
    if (!options.data) await Deno.remove(data, { recursive: true }).catch(() => {});
    return s;
  };
  let url = `http://127.0.0.1:${options.httpPort ?? 0}`;
  let grpcAddress = "";
  if (options.waitListening ?? true) {
    let listening: Record<string, unknown>;
    try {
      listening = await Promise.race([
        waitForLog((l) => l.msg === "orchestrator listening", 60_000),
        child.status.then((s) => {
          throw new Error(
            `orchestrator exited with ${s.code}:\n${logs.map((l) => JSON.stringify(l)).join("\n")}`,
          );
        }),
      ]);
    } catch (err) {
      await stop();
      throw err;
    }
    // A wildcard bind (0.0.0.0, ::) is reached through loopback.
    const reachable = (address: unknown) =>
      String(address).replace(/^0\.0\.0\.0:/, "127.0.0.1:").replace(/^\[::\]:/, "[::1]:");
    url = `${listening.tls ? "https" : "http"}://${reachable(listening.http)}`;
    grpcAddress = reachable(listening.grpc);
  }
  return { url, grpcAddress, pid: child.pid, logs, waitForLog, child, stop, spawnedAt };
}

/** Pids of live processes whose parent chain or process group leads to `pid`s. */
export function liveProcesses(pgids: number[]): number[] {
  return pgids.flatMap((g) => groupMembers(g));
}

/** GETs JSON from the gateway. */
export async function getJson(
  url: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.json() };
}

/** Copies a fixture directory of `tests/fixtures/` to a fresh temporary directory. */
export async function fixtureCopy(...names: string[]): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  for (const name of names) {
    await new Deno.Command("cp", { args: ["-r", `${ROOT}tests/fixtures/${name}`, `${dir}/`] })
      .output();
  }
  return dir;
}

/** Writes a module.yaml running the example test camera under `name` into `modulesDir`. */
export async function addCamera(
  modulesDir: string,
  name = "test-camera",
  extra = "",
): Promise<void> {
  await Deno.mkdir(`${modulesDir}/${name}`, { recursive: true });
  await Deno.writeTextFile(
    `${modulesDir}/${name}/module.yaml`,
    `name: ${name}\nversion: "0.1.0"\ncommand: ["deno", "run", "--allow-all", "${ROOT}tests/fixtures/simulators/test-camera/main.ts"]\n${extra}`,
  );
}

/** Writes `modulesDir/<name>/module.yaml` with `yaml` (name is added). */
export async function addModule(modulesDir: string, name: string, yaml: string): Promise<string> {
  await Deno.mkdir(`${modulesDir}/${name}`, { recursive: true });
  const file = `${modulesDir}/${name}/module.yaml`;
  await Deno.writeTextFile(file, `name: ${name}\n${yaml}`);
  return file;
}

/** Writes a module running tests/fixtures/behave.ts with BEHAVE=`behave`. */
export function addBehaving(
  modulesDir: string,
  name: string,
  behave: string,
  extra = "",
): Promise<string> {
  return addModule(
    modulesDir,
    name,
    `command: ["deno", "run", "--allow-all", "${ROOT}tests/fixtures/behave.ts"]\n` +
      `env: { BEHAVE: "${behave}" }\n${extra}`,
  );
}

/** A module as the gateway returns it. */
export type ModuleJson = Record<string, unknown> & {
  name: string;
  state: string;
  pid: number;
  lastError: string;
  restarts: number;
};

/** GET /v1/modules as a map by name. */
export async function listModules(url: string): Promise<Record<string, ModuleJson>> {
  const { body } = await getJson(`${url}/v1/modules`);
  return Object.fromEntries((body.modules as ModuleJson[]).map((m) => [m.name, m]));
}

/** Waits until module `name` is in `state` (e.g. "READY") and returns it. */
export function waitForState(
  url: string,
  name: string,
  state: string,
  timeoutMs = 30_000,
  extra: (m: ModuleJson) => boolean = () => true,
): Promise<ModuleJson> {
  return waitFor(
    async () => {
      const m = (await listModules(url))[name];
      return m?.state === `MODULE_STATE_${state}` && extra(m) ? m : undefined;
    },
    timeoutMs,
    `${name} ${state}`,
  );
}
