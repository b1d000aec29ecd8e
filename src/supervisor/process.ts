/**
 * Spawns one module process as the leader of its own process group, with stdin held
 * open as a pipe (the module exits on EOF when the orchestrator dies) and stdout/stderr
 * captured line by line.
 */
import { readLines } from "../log/lines.ts";

/** A running module process. */
export interface ModuleProcess {
  readonly pid: number;
  /** Resolves when the process has exited. */
  readonly status: Promise<Deno.CommandStatus>;
  /** Sends a signal to the whole process group; ignores a group already gone. */
  signalGroup(signal: Deno.Signal): void;
}

/** What to spawn. */
export interface SpawnOptions {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  onLine: (stream: "stdout" | "stderr", line: string) => void;
}

/**
 * The argv to run: a leading `deno` means the orchestrator's own Deno when it runs from
 * source, so modules get the same pinned version; a compiled binary uses `deno` from PATH.
 */
export function resolveArgv(argv: string[]): string[] {
  const exec = Deno.execPath();
  const fromSource = /(^|\/)deno$/.test(exec);
  return argv[0] === "deno" && fromSource ? [exec, ...argv.slice(1)] : argv;
}

/** Spawns the process; throws (e.g. Deno.errors.NotFound) when it cannot start. */
export function spawnModule(options: SpawnOptions): ModuleProcess {
  const [cmd, ...args] = resolveArgv(options.argv);
  const child = new Deno.Command(cmd, {
    args,
    cwd: options.cwd,
    env: options.env,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    // setsid(): the module leads its own process group, so signals reach its children.
    detached: true,
  }).spawn();
  const pid = child.pid;
  readLines(child.stdout, (l) => options.onLine("stdout", l)).catch(() => {});
  readLines(child.stderr, (l) => options.onLine("stderr", l)).catch(() => {});
  // Output is not awaited: a grandchild may hold the pipes open after the module exits.
  const status = child.status.then(async (s) => {
    try {
      await child.stdin.close();
    } catch {
      // Already closed.
    }
    return s;
  });
  return {
    pid,
    status,
    signalGroup(signal: Deno.Signal) {
      try {
        Deno.kill(-pid, signal);
      } catch {
        // The group is gone already.
      }
    },
  };
}
