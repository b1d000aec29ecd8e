/**
 * Starts the real orchestrator (`deno run main.ts run`) on ports the kernel picks, reads
 * its JSON log lines, and stops it at the end: every test process is gone afterwards.
 */
import { fileURLToPath } from "node:url";
import { groupMembers } from "../../src/supervisor/process_group.ts";
import { readLines } from "../../src/log/lines.ts";

/** The repository root. */
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** A running orchestrator under test. */
export interface TestOrchestrator {
  /** Base URL of the HTTP gateway, e.g. "http://127.0.0.1:34567". */
  url: string;
  /** host:port of the gRPC server. */
  grpcAddress: string;
  pid: number;
  /** Every JSON log line so far. */
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
}

/** Polls `fn` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(
  fn: () => T | Promise<T>,
  timeoutMs = 20_000,
  what = "condition",
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last}` : ""}`);
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
}

/** Starts the orchestrator and waits until both listeners are up. */
export async function startOrchestrator(options: StartOptions): Promise<TestOrchestrator> {
  const data = options.data ?? await Deno.makeTempDir({ prefix: "ca-test-data-" });
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      options.main ?? `${ROOT}main.ts`,
      "run",
      "--modules",
      options.modules,
      "--data",
      data,
      "--grpc",
      "127.0.0.1:0",
      "--http",
      "127.0.0.1:0",
      "--log-format",
      "json",
      ...(options.args ?? []),
    ],
    env: options.env,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const logs: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  readLines(child.stderr, (line) => {
    try {
      logs.push(JSON.parse(line));
    } catch {
      logs.push({ msg: line, raw: true });
    }
    for (const w of waiters) w();
  });
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
  let status: Deno.CommandStatus | undefined;
  child.status.then((s) => status = s);
  const listening = await Promise.race([
    waitForLog((l) => l.msg === "orchestrator listening"),
    child.status.then((s) => {
      throw new Error(
        `orchestrator exited with ${s.code}:\n${logs.map((l) => JSON.stringify(l)).join("\n")}`,
      );
    }),
  ]);
  // A wildcard bind (0.0.0.0, ::) is reached through loopback.
  const reachable = (address: unknown) =>
    String(address).replace(/^0\.0\.0\.0:/, "127.0.0.1:").replace(/^\[::\]:/, "[::1]:");
  const orchestrator: TestOrchestrator = {
    url: `${listening.tls ? "https" : "http"}://${reachable(listening.http)}`,
    grpcAddress: reachable(listening.grpc),
    pid: child.pid,
    logs,
    waitForLog,
    child,
    async stop() {
      if (!status) child.kill("SIGTERM");
      const s = await child.status;
      // A data directory made here is removed here; a caller's own stays.
      if (!options.data) await Deno.remove(data, { recursive: true }).catch(() => {});
      return s;
    },
  };
  return orchestrator;
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

/** True when a process with this pid is alive (zombies count as gone). */
export function isAlive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const state = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
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
