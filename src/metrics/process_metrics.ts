/**
 * The standard `process_` metrics of the Prometheus client library guidelines (and only
 * those names): CPU, resident and virtual memory, start time, open and maximum file
 * descriptors and threads, read from `/proc/self` on Linux (where it is missing, only
 * what Deno itself tells). The JavaScript heap is Deno's, not the process heap, so it is
 * exported as `deno_memory_*` instead.
 */
import process from "node:process";
import * as client from "./prom.ts";

/** What `/proc/self` tells, or undefined off Linux. */
interface ProcSelf {
  virtualBytes: number;
  threads: number;
  openFds: number;
  maxFds: number;
}

function readProcSelf(): ProcSelf | undefined {
  try {
    const stat = Deno.readTextFileSync("/proc/self/stat");
    // Fields after the command name (which may hold spaces) in parentheses.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // Field 20 is num_threads and 23 vsize (1-based, counting pid and comm).
    const threads = Number(fields[20 - 3]);
    const virtualBytes = Number(fields[23 - 3]);
    let openFds = 0;
    for (const _ of Deno.readDirSync("/proc/self/fd")) openFds++;
    const limits = Deno.readTextFileSync("/proc/self/limits");
    const soft = /^Max open files\s+(\S+)/m.exec(limits)?.[1];
    const maxFds = soft === undefined || soft === "unlimited" ? NaN : Number(soft);
    return { virtualBytes, threads, openFds, maxFds };
  } catch {
    return undefined;
  }
}

/** Registers the process metrics in `registry`. */
export function registerProcessMetrics(registry: client.Registry): void {
  const reg = [registry];
  let proc: ProcSelf | undefined;
  new client.Counter({
    name: "process_cpu_seconds_total",
    help: "Total user and system CPU time spent in seconds.",
    registers: reg,
    collect() {
      const u = process.cpuUsage();
      this.reset();
      this.inc((u.user + u.system) / 1e6);
      proc = readProcSelf(); // read once per scrape, for the gauges below
    },
  });
  new client.Gauge({
    name: "process_resident_memory_bytes",
    help: "Resident memory size in bytes.",
    registers: reg,
    collect() {
      this.set(Deno.memoryUsage().rss);
    },
  });
  const startSeconds = Math.round(Date.now() / 1000 - performance.now() / 1000);
  new client.Gauge({
    name: "process_start_time_seconds",
    help: "Start time of the process since unix epoch in seconds.",
    registers: reg,
    collect() {
      this.set(startSeconds);
    },
  });
  const fromProc = (name: string, help: string, value: (p: ProcSelf) => number) =>
    new client.Gauge({
      name,
      help,
      registers: reg,
      collect() {
        this.reset();
        const v = proc && value(proc);
        if (v !== undefined && Number.isFinite(v)) this.set(v);
      },
    });
  fromProc("process_virtual_memory_bytes", "Virtual memory size in bytes.", (p) => p.virtualBytes);
  fromProc("process_open_fds", "Number of open file descriptors.", (p) => p.openFds);
  fromProc("process_max_fds", "Maximum number of open file descriptors.", (p) => p.maxFds);
  fromProc("process_threads", "Number of OS threads in the process.", (p) => p.threads);
}
