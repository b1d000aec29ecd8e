/**
 * Records the module processes of this run (pid, process start time and, when it has
 * one, the module's cgroup) in the data directory, so the next run can terminate any
 * that survived an orchestrator killed with SIGKILL: the whole cgroup when there is one
 * (children that left the module's process group included), else the process group. The
 * start time guards against a recycled pid belonging to someone else.
 */
import type { Logger } from "../log/logger.ts";
import { groupMembers, waitGroupGone } from "./process_group.ts";
import { cgroupPids, killCgroup, removeCgroup, signalCgroup, waitCgroupEmpty } from "./cgroups.ts";

/** One recorded module process. */
export interface PidRecord {
  module: string;
  pid: number;
  /** Start time in clock ticks since boot (/proc/<pid>/stat field 22). */
  startTicks: number;
  /** The module's cgroup directory, when it ran in one. */
  cgroup?: string;
}

/** The start time of a live process, or undefined when it is gone (or a zombie). */
export function processStartTicks(pid: number): number | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (fields[0] === "Z" || fields[0] === "X") return undefined;
    return Number(fields[19]);
  } catch {
    return undefined;
  }
}

/** A cgroup directory of ours: `.../call-assistant-<pid>/m-<instance>`. */
const OUR_CGROUP = /\/call-assistant-\d+\/m-[^/]+$/;

/** The recorded module processes of the running orchestrator. */
export class PidRecords {
  #records: PidRecord[] = [];

  readonly #file: string;

  constructor(file: string) {
    this.#file = file;
  }

  /** Records a spawned process (and its cgroup). */
  add(module: string, pid: number, cgroup?: string): void {
    this.#records.push({ module, pid, startTicks: processStartTicks(pid) ?? 0, cgroup });
    this.#save();
  }

  /** Forgets an exited process. */
  remove(pid: number): void {
    this.#records = this.#records.filter((r) => r.pid !== pid);
    this.#save();
  }

  #save(): void {
    const tmp = `${this.#file}.tmp`;
    try {
      Deno.writeTextFileSync(tmp, JSON.stringify(this.#records));
      Deno.renameSync(tmp, this.#file);
    } catch {
      // The data directory vanished; the next start then finds nothing to reap.
    }
  }

  /**
   * Terminates module processes recorded by a previous run that are still alive: every
   * process of a recorded cgroup, or else the recorded process group (SIGTERM, then
   * SIGKILL after `timeoutMs`), removes those cgroups, and starts a fresh record.
   * Returns the records that had something left.
   */
  async reapPrevious(logger: Logger, timeoutMs = 3_000): Promise<PidRecord[]> {
    let previous: PidRecord[] = [];
    try {
      const data = JSON.parse(await Deno.readTextFile(this.#file));
      if (Array.isArray(data)) previous = data;
    } catch {
      // No record, or an unreadable one: nothing to reap.
    }
    const valid = previous.filter((r) => Number.isInteger(r.pid) && r.pid > 1);
    // A cgroup is ours only by its name: a damaged record must not point anywhere else.
    const cgroupOf = (r: PidRecord) =>
      typeof r.cgroup === "string" && OUR_CGROUP.test(r.cgroup) ? r.cgroup : undefined;
    const leaderAlive = (r: PidRecord) => processStartTicks(r.pid) === r.startTicks;
    const left = valid.filter((r) => {
      const cgroup = cgroupOf(r);
      return (cgroup && cgroupPids(cgroup).length > 0) || leaderAlive(r);
    });
    for (const r of left) {
      const cgroup = cgroupOf(r);
      logger.warn("terminating module processes left from a previous run", {
        module: r.module,
        pid: r.pid,
        ...(cgroup ? { cgroup, processes: cgroupPids(cgroup).length } : {}),
      });
      if (leaderAlive(r)) signalGroup(r.pid, "SIGTERM");
      if (cgroup) signalCgroup(cgroup, "SIGTERM");
    }
    for (const r of left) {
      const cgroup = cgroupOf(r);
      const groupGone = !leaderAlive(r) || await waitGroupGone(r.pid, timeoutMs);
      if (!groupGone) signalGroup(r.pid, "SIGKILL");
      if (cgroup && !(await waitCgroupEmpty(cgroup, groupGone ? timeoutMs : 0))) {
        killCgroup(cgroup);
        await waitCgroupEmpty(cgroup, 1_000);
      }
      if (groupMembers(r.pid).length > 0 && leaderAlive(r)) await waitGroupGone(r.pid, 1_000);
    }
    // The previous run's cgroups go, emptied or not already.
    const roots = new Set<string>();
    for (const r of valid) {
      const cgroup = cgroupOf(r);
      if (!cgroup) continue;
      removeCgroup(cgroup);
      roots.add(cgroup.slice(0, cgroup.lastIndexOf("/")));
    }
    for (const root of roots) removeCgroup(root);
    this.#records = [];
    this.#save();
    return left;
  }
}

function signalGroup(pgid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(-pgid, signal);
  } catch {
    // Gone already.
  }
}
