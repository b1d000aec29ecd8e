/**
 * The orchestrator under benchmark: started by the tests' harness
 * (`tests/helpers/test_orchestrator.ts`) in a process group of its own on a free HTTP port, with
 * the arrival time of every log line, and every module it spawns tracked for cleanup.
 */
import { startOrchestrator as startHarness } from "../../tests/helpers/test_orchestrator.ts";
import { freePort } from "../../tests/helpers/free_ports.ts";
import { trackGroup } from "../../tests/helpers/processes.ts";

/** One JSON log line of the orchestrator with the time it arrived. */
export interface LogLine {
  at: number;
  line: Record<string, unknown>;
}

/** A running orchestrator under benchmark. */
export interface BenchOrchestrator {
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
 * port with JSON logs, and waits until it is listening (unless `waitListening` is false).
 */
export async function startOrchestrator(options: OrchestratorOptions): Promise<BenchOrchestrator> {
  const logs: LogLine[] = [];
  const maxLogs = options.maxLogs ?? 200_000;
  const listeners = new Set<(l: LogLine) => void>();
  const httpPort = freePort();
  const orch = await startHarness({
    modules: options.modules,
    denoFlags: options.denoFlags,
    args: options.args,
    env: options.env,
    httpPort,
    waitListening: options.waitListening,
    processGroup: true,
    maxLogs,
    onLog: (line, at) => {
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
  return {
    pid: orch.pid,
    url: `http://127.0.0.1:${httpPort}`,
    httpPort,
    grpcAddress: orch.grpcAddress,
    spawnedAt: orch.spawnedAt,
    logs,
    waitForLog,
    onLog,
    stop: async () => {
      await orch.stop();
    },
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
