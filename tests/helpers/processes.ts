/**
 * Processes started by tests and benchmarks, each the leader of a process group of its
 * own, and always stopped: `cleanup()` ends every group still alive. Also running a
 * command to completion and reading a process's state from /proc.
 */
import { readLines } from "../../src/log/lines.ts";

/** The Deno running the tests or benchmarks (and everything they start). */
export const DENO = Deno.execPath();

/** A process started by {@link spawn}. */
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

/** Spawns a process as the leader of a new process group and tracks it for `cleanup`. */
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
  return proc;
}

/** Extra process groups to kill at the end (module pids an orchestrator started). */
const extraGroups = new Set<number>();

/** Registers a process group (e.g. a module started by the orchestrator) for cleanup. */
export function trackGroup(pgid: number): void {
  extraGroups.add(pgid);
}

/** Kills every process group started or tracked here. Safe to call more than once. */
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
