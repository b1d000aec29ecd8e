/**
 * Reads the CPU time and resident memory of process trees from Linux `/proc`, for
 * per-module resources. One `scanProcesses()` reads `/proc/<pid>/stat` of every process
 * once; `treeOf()` then finds a module's processes in that snapshot (descendants by
 * parent pid, plus its cgroup's members, which may have left the tree), so sampling N
 * modules costs one scan, not N.
 */
import { cgroup2Mount, cgroupPids, ownCgroupPath } from "./cgroups.ts";

/** Clock ticks per second of the times in /proc/<pid>/stat (USER_HZ, 100 on Linux). */
export const CLOCK_TICKS = 100;

/** One process as read from /proc/<pid>/stat. */
export interface ProcStat {
  pid: number;
  ppid: number;
  /** utime + stime, in clock ticks. */
  ownTicks: number;
  /** cutime + cstime: children that ended and were waited for, in clock ticks. */
  childTicks: number;
  /** Resident set size in pages. */
  rssPages: number;
}

/** Parses the text of /proc/<pid>/stat; undefined for a zombie or an unreadable line. */
export function parseStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(")");
  if (close < 0) return undefined;
  const pid = Number(text.slice(0, text.indexOf(" ")));
  // Fields after the command name (which is in parentheses and may hold spaces), from
  // field 3 (state): state=0 ppid=1 ... utime=11 stime=12 cutime=13 cstime=14 ... rss=21.
  const f = text.slice(close + 2).split(" ");
  if (f.length < 22 || f[0] === "Z" || f[0] === "X") return undefined;
  return {
    pid,
    ppid: Number(f[1]),
    ownTicks: Number(f[11]) + Number(f[12]),
    childTicks: Number(f[13]) + Number(f[14]),
    rssPages: Number(f[21]),
  };
}

/** Every live process, by pid, and the children of each. */
export interface ProcessSnapshot {
  byPid: Map<number, ProcStat>;
  children: Map<number, number[]>;
}

/** Reads /proc/<pid>/stat of every process (one pass). */
export function scanProcesses(): ProcessSnapshot {
  const byPid = new Map<number, ProcStat>();
  const children = new Map<number, number[]>();
  let entries: Iterable<Deno.DirEntry>;
  try {
    entries = Deno.readDirSync("/proc");
  } catch {
    return { byPid, children };
  }
  for (const entry of entries) {
    const c = entry.name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    let stat: ProcStat | undefined;
    try {
      stat = parseStat(Deno.readTextFileSync(`/proc/${entry.name}/stat`));
    } catch {
      continue; // Ended while we looked.
    }
    if (!stat) continue;
    byPid.set(stat.pid, stat);
    const siblings = children.get(stat.ppid);
    if (siblings) siblings.push(stat.pid);
    else children.set(stat.ppid, [stat.pid]);
  }
  return { byPid, children };
}

/** The totals of one process tree. */
export interface TreeUsage {
  /** CPU seconds: every process's own time and that of its waited-for children. */
  cpuSeconds: number;
  rssBytes: number;
  processes: number;
}

let cachedPageSize = 0;

/**
 * The kernel's page size in bytes, for the rss field (4 KiB on most machines, 16 KiB on
 * a Raspberry Pi 5 kernel): from this process's VmRSS (kB) and its resident pages.
 */
export function pageSize(): number {
  if (cachedPageSize) return cachedPageSize;
  cachedPageSize = 4096;
  try {
    const kb = Number(/VmRSS:\s+(\d+)/.exec(Deno.readTextFileSync("/proc/self/status"))?.[1]);
    const pages = Number(Deno.readTextFileSync("/proc/self/statm").split(" ")[1]);
    if (kb > 0 && pages > 0) {
      // The nearest power of two: the two reads are not at the same instant.
      cachedPageSize = 2 ** Math.round(Math.log2((kb * 1024) / pages));
    }
  } catch {
    // Keep 4 KiB.
  }
  return cachedPageSize;
}

const cgroupMount = (() => {
  let mount: string | undefined | null = null;
  return () => {
    if (mount === null) {
      try {
        mount = cgroup2Mount(Deno.readTextFileSync("/proc/self/mountinfo"));
      } catch {
        mount = undefined;
      }
    }
    return mount;
  };
})();

/**
 * The members of the cgroup `pid` is in, when it is a module cgroup of an orchestrator
 * (`.../call-assistant-<pid>/m-<instance>`); empty otherwise (its cgroup is shared).
 */
export function moduleCgroupMembers(pid: number): number[] {
  const mount = cgroupMount();
  if (!mount) return [];
  let path: string | undefined;
  try {
    path = ownCgroupPath(Deno.readTextFileSync(`/proc/${pid}/cgroup`));
  } catch {
    return [];
  }
  if (!path || !/\/call-assistant-\d+\/m-[^/]+$/.test(path)) return [];
  return cgroupPids(`${mount}${path}`);
}

/**
 * The processes of the tree rooted at `root`: its descendants by parent pid, and the
 * members of its module cgroup (a child that double-forked away is still counted).
 */
export function treeOf(snapshot: ProcessSnapshot, root: number): ProcStat[] {
  const found = new Map<number, ProcStat>();
  const stack = [root, ...moduleCgroupMembers(root)];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    if (found.has(pid)) continue;
    const stat = snapshot.byPid.get(pid);
    if (!stat) continue;
    found.set(pid, stat);
    stack.push(...(snapshot.children.get(pid) ?? []));
  }
  return [...found.values()];
}

/** Sums a tree's CPU time and resident memory. */
export function usageOf(tree: ProcStat[]): TreeUsage {
  let ticks = 0;
  let pages = 0;
  for (const p of tree) {
    ticks += p.ownTicks + p.childTicks;
    pages += p.rssPages;
  }
  return { cpuSeconds: ticks / CLOCK_TICKS, rssBytes: pages * pageSize(), processes: tree.length };
}
