/**
 * Each module's processes in a cgroup v2 of their own, when the orchestrator can make
 * one (as root, or in a cgroup delegated to it, e.g. systemd's `Delegate=yes`). A child
 * that leaves the module's process group (setsid, double fork) stays in the cgroup, so
 * stopping the module reaches it: `cgroup.kill` (Linux 5.14+), else a signal to each pid
 * in `cgroup.procs`.
 *
 * Layout: `<v2 mount><orchestrator's own cgroup>/call-assistant-<pid>/<instance>`, where
 * the v2 mount is found in /proc/self/mountinfo (`/sys/fs/cgroup` on pure v2 systems such
 * as Raspberry Pi OS, `/sys/fs/cgroup/unified` on hybrid ones) and the own cgroup in
 * /proc/self/cgroup (its `0::` line). A process joins its cgroup before it runs the
 * module's command, through a `/bin/sh` wrapper (Deno.Command cannot place a child).
 */

/** Where cgroup v2 is mounted, from the text of /proc/self/mountinfo; undefined if nowhere. */
export function cgroup2Mount(mountinfo: string): string | undefined {
  for (const line of mountinfo.split("\n")) {
    const [before, after] = line.split(" - ");
    if (after?.split(" ")[0] === "cgroup2") return before.split(" ")[4];
  }
  return undefined;
}

/** The cgroup v2 path of a process, from the text of /proc/<pid>/cgroup ("0::/path"). */
export function ownCgroupPath(procCgroup: string): string | undefined {
  const line = procCgroup.split("\n").find((l) => l.startsWith("0::"));
  return line?.slice(3);
}

function readOr(path: string, fallback = ""): string {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return fallback;
  }
}

/** Pids in the cgroup at `dir` and every cgroup below it. */
export function cgroupPids(dir: string): number[] {
  const pids = readOr(`${dir}/cgroup.procs`).split("\n").filter(Boolean).map(Number);
  try {
    for (const entry of Deno.readDirSync(dir)) {
      if (entry.isDirectory) pids.push(...cgroupPids(`${dir}/${entry.name}`));
    }
  } catch {
    // Gone.
  }
  return pids;
}

/** True while a process is in the cgroup at `dir` or below (cgroup.events "populated 1"). */
export function cgroupPopulated(dir: string): boolean {
  const events = readOr(`${dir}/cgroup.events`);
  if (events) return /^populated 1$/m.test(events);
  return cgroupPids(dir).length > 0;
}

/** Kills every process in the cgroup at `dir` and below: cgroup.kill, else pid by pid. */
export function killCgroup(dir: string): void {
  try {
    Deno.writeTextFileSync(`${dir}/cgroup.kill`, "1");
    return;
  } catch {
    // Before Linux 5.14, or gone.
  }
  signalCgroup(dir, "SIGKILL");
}

/** Sends `signal` to every process in the cgroup at `dir` and below. */
export function signalCgroup(dir: string, signal: Deno.Signal): void {
  for (const pid of cgroupPids(dir)) {
    try {
      Deno.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
}

/** Resolves true once the cgroup at `dir` is empty, false after `timeoutMs`. */
export async function waitCgroupEmpty(dir: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (cgroupPopulated(dir)) {
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
  return true;
}

/** Removes the cgroup at `dir` and the empty ones below it; false when it cannot. */
export function removeCgroup(dir: string): boolean {
  try {
    for (const entry of Deno.readDirSync(dir)) {
      if (entry.isDirectory) removeCgroup(`${dir}/${entry.name}`);
    }
    Deno.removeSync(dir);
    return true;
  } catch {
    return false;
  }
}

/**
 * Removes the empty cgroups of orchestrators that are gone (`call-assistant-<pid>` under
 * `parent` whose pid is not running), left by one killed without a restart in the same
 * data directory. Populated ones are left to that data directory's next start.
 */
function removeAbandoned(parent: string): void {
  try {
    for (const entry of Deno.readDirSync(parent)) {
      const pid = /^call-assistant-(\d+)$/.exec(entry.name)?.[1];
      if (!pid || Number(pid) === Deno.pid || isRunning(Number(pid))) continue;
      const dir = `${parent}/${entry.name}`;
      if (!cgroupPopulated(dir)) removeCgroup(dir);
    }
  } catch {
    // Not readable: nothing to tidy.
  }
}

function isRunning(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/**
 * The shell that puts itself into the cgroup whose `cgroup.procs` is its first argument,
 * then runs the rest of its arguments in its place (same pid).
 */
const JOIN_AND_EXEC = 'echo $$ > "$1" && shift && exec "$@"';

/** The cgroups of one orchestrator run. */
export class ModuleCgroups {
  private constructor(readonly root: string) {}

  /**
   * Makes this run's cgroup and checks that a process can be moved into it. Returns the
   * cgroups, or why they cannot be used (no cgroup v2, no permission, ...).
   */
  static async create(): Promise<{ cgroups?: ModuleCgroups; reason?: string }> {
    const mount = cgroup2Mount(readOr("/proc/self/mountinfo"));
    if (!mount) return { reason: "no cgroup v2 mounted (/proc/self/mountinfo)" };
    const own = ownCgroupPath(readOr("/proc/self/cgroup"));
    if (own === undefined) return { reason: "no cgroup v2 line in /proc/self/cgroup" };
    const parent = `${mount}${own === "/" ? "" : own}`;
    removeAbandoned(parent);
    const root = `${parent}/call-assistant-${Deno.pid}`;
    try {
      Deno.mkdirSync(root);
    } catch (err) {
      if (!(err instanceof Deno.errors.AlreadyExists)) {
        return { reason: `cannot create ${root}: ${(err as Error).message}` };
      }
    }
    const cgroups = new ModuleCgroups(root);
    // Moving a process needs write access where its old and new cgroups meet: try it.
    const probe = cgroups.prepare(".probe");
    try {
      const out = await new Deno.Command("/bin/sh", {
        args: cgroups.wrap(probe, ["/bin/true"]).slice(1),
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).output();
      if (!out.success) {
        const why = new TextDecoder().decode(out.stderr).trim().split("\n")[0];
        removeCgroup(root);
        return { reason: `cannot move a process into ${root}: ${why}` };
      }
    } catch (err) {
      removeCgroup(root);
      return { reason: `cannot run /bin/sh: ${(err as Error).message}` };
    }
    await waitCgroupEmpty(probe, 1_000);
    removeCgroup(probe);
    return { cgroups };
  }

  /** The cgroup of module instance `instance` (e.g. "camera", "camera@1"), created. */
  prepare(instance: string): string {
    // "m-": no module name can then clash with the kernel's own file names.
    const dir = `${this.root}/m-${instance}`;
    try {
      Deno.mkdirSync(dir);
    } catch (err) {
      if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
    }
    return dir;
  }

  /** The argv that runs `argv` inside the cgroup at `dir`. */
  wrap(dir: string, argv: string[]): string[] {
    return ["/bin/sh", "-c", JOIN_AND_EXEC, "sh", `${dir}/cgroup.procs`, ...argv];
  }

  /**
   * Kills every module process of this run at once (a forced exit). The emptied cgroups
   * are removed by the next orchestrator that starts (see `removeAbandoned`).
   */
  killAll(): void {
    killCgroup(this.root);
  }

  /** Kills what is left and removes this run's cgroups. */
  async close(): Promise<void> {
    killCgroup(this.root);
    await waitCgroupEmpty(this.root, 2_000);
    removeCgroup(this.root);
  }
}
