/**
 * Spawns one module process as the leader of its own process group (and, when the
 * orchestrator can, inside a cgroup of its own: see cgroups.ts), with stdin held open as
 * a pipe (the module exits on EOF when the orchestrator dies) and stdout/stderr captured
 * line by line. Everything the module starts is reached through its cgroup, or else its
 * process group.
 */
import { readLines } from "../log/lines.ts";
import { cgroupPids, killCgroup, signalCgroup, waitCgroupEmpty } from "./cgroups.ts";
import { groupMembers, waitGroupGone } from "./process_group.ts";

/** A running module process and everything it started. */
export interface ModuleProcess {
  readonly pid: number;
  /** The module's cgroup directory, when it has one. */
  readonly cgroup?: string;
  /** Resolves when the process has exited. */
  readonly status: Promise<Deno.CommandStatus>;
  /**
   * Sends a signal to every process of the module: its process group and its cgroup
   * (whose members may have left the group). SIGKILL uses `cgroup.kill`.
   */
  signal(signal: Deno.Signal): void;
  /** Live processes of the module (its cgroup's, else its process group's). */
  members(): number[];
  /** Resolves true once no process of the module is left, false after `timeoutMs`. */
  waitGone(timeoutMs: number): Promise<boolean>;
}

/** What to spawn. */
export interface SpawnOptions {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  onLine: (stream: "stdout" | "stderr", line: string) => void;
  /** The cgroup to run in, and how to wrap a command so it joins it before it runs. */
  cgroup?: { dir: string; wrap(dir: string, argv: string[]): string[] };
  /** Written to the module's standard input right after it starts (then kept open). */
  stdinText?: string;
  /** An argv prefix that runs the command as another user (see run_as.ts). */
  runAs?: string[];
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

function isExecutableFile(path: string): boolean {
  try {
    const stat = Deno.statSync(path);
    return stat.isFile && ((stat.mode ?? 0o111) & 0o111) !== 0;
  } catch {
    return false;
  }
}

/**
 * Checks that `cmd` names an executable (relative to `cwd`, or on `PATH`), as spawning it
 * directly would: behind a wrapper, a missing command would only be the wrapper's exit 127.
 * Throws Deno.errors.NotFound naming it.
 */
export function checkExecutable(cmd: string, cwd: string, path = ""): void {
  const found = cmd.includes("/")
    ? isExecutableFile(cmd.startsWith("/") ? cmd : `${cwd}/${cmd}`)
    : path.split(":").some((dir) => dir !== "" && isExecutableFile(`${dir}/${cmd}`));
  if (!found) {
    throw new Deno.errors.NotFound(`no such executable: ${cmd} (os error 2)`);
  }
}

/** Spawns the process; throws (e.g. Deno.errors.NotFound) when it cannot start. */
export function spawnModule(options: SpawnOptions): ModuleProcess {
  let argv = resolveArgv(options.argv);
  const cgroup = options.cgroup?.dir;
  if (options.cgroup || options.runAs) {
    checkExecutable(argv[0], options.cwd, options.env.PATH ?? Deno.env.get("PATH"));
  }
  if (options.runAs) argv = [...options.runAs, ...argv];
  if (options.cgroup) argv = options.cgroup.wrap(options.cgroup.dir, argv);
  const [cmd, ...args] = argv;
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
  const stdin = child.stdin.getWriter();
  if (options.stdinText) {
    stdin.write(new TextEncoder().encode(options.stdinText)).catch(() => {});
  }
  // Output is not awaited: a grandchild may hold the pipes open after the module exits.
  const status = child.status.then(async (s) => {
    try {
      await stdin.close();
    } catch {
      // Already closed.
    }
    return s;
  });
  const signalGroup = (signal: Deno.Signal) => {
    try {
      Deno.kill(-pid, signal);
    } catch {
      // The group is gone already.
    }
  };
  return {
    pid,
    cgroup,
    status,
    signal(signal) {
      signalGroup(signal);
      if (!cgroup) return;
      if (signal === "SIGKILL") killCgroup(cgroup);
      else signalCgroup(cgroup, signal);
    },
    members: () => cgroup ? cgroupPids(cgroup) : groupMembers(pid),
    async waitGone(timeoutMs) {
      const started = Date.now();
      if (!(await waitGroupGone(pid, timeoutMs))) return false;
      return cgroup ? await waitCgroupEmpty(cgroup, timeoutMs - (Date.now() - started)) : true;
    },
  };
}
