/**
 * Records the module processes of this run (pid and process start time) in the data
 * directory, so the next run can terminate any that survived an orchestrator killed with
 * SIGKILL. The start time guards against a recycled pid belonging to someone else.
 */
import type { Logger } from "../log/logger.ts";
import { groupMembers, waitGroupGone } from "./process_group.ts";

/** One recorded module process. */
export interface PidRecord {
  module: string;
  pid: number;
  /** Start time in clock ticks since boot (/proc/<pid>/stat field 22). */
  startTicks: number;
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

/** The recorded module processes of the running orchestrator. */
export class PidRecords {
  private records: PidRecord[] = [];

  constructor(private readonly file: string) {}

  /** Records a spawned process. */
  add(module: string, pid: number): void {
    this.records.push({ module, pid, startTicks: processStartTicks(pid) ?? 0 });
    this.save();
  }

  /** Forgets an exited process. */
  remove(pid: number): void {
    this.records = this.records.filter((r) => r.pid !== pid);
    this.save();
  }

  private save(): void {
    const tmp = `${this.file}.tmp`;
    try {
      Deno.writeTextFileSync(tmp, JSON.stringify(this.records));
      Deno.renameSync(tmp, this.file);
    } catch {
      // The data directory vanished; the next start then finds nothing to reap.
    }
  }

  /**
   * Terminates module process groups recorded by a previous run that are still alive
   * (SIGTERM, then SIGKILL after `timeoutMs`), and starts a fresh record. Returns them.
   */
  async reapPrevious(logger: Logger, timeoutMs = 3_000): Promise<PidRecord[]> {
    let previous: PidRecord[] = [];
    try {
      const data = JSON.parse(await Deno.readTextFile(this.file));
      if (Array.isArray(data)) previous = data;
    } catch {
      // No record, or an unreadable one: nothing to reap.
    }
    const alive = previous.filter((r) =>
      Number.isInteger(r.pid) && r.pid > 1 && processStartTicks(r.pid) === r.startTicks
    );
    for (const r of alive) {
      logger.warn("terminating a module process left from a previous run", {
        module: r.module,
        pid: r.pid,
      });
      signalGroup(r.pid, "SIGTERM");
    }
    for (const r of alive) {
      if (!(await waitGroupGone(r.pid, timeoutMs))) signalGroup(r.pid, "SIGKILL");
      if (groupMembers(r.pid).length > 0) await waitGroupGone(r.pid, 1_000);
    }
    this.records = [];
    this.save();
    return alive;
  }
}

function signalGroup(pgid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(-pgid, signal);
  } catch {
    // Gone already.
  }
}
