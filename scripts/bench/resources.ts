/** What processes and the machine use, read from /proc: resident memory and CPU time. */

/** The resident set size of a process in MiB (VmRSS), or NaN when it is gone. */
export function rssMiB(pid: number): number {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Samples a process's RSS every `intervalMs` until stopped; returns the samples. */
export function sampleRss(pid: number, intervalMs = 250): { stop(): number[] } {
  const samples: number[] = [];
  const take = () => {
    const v = rssMiB(pid);
    if (!Number.isNaN(v)) samples.push(v);
  };
  take();
  const timer = setInterval(take, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      take();
      return samples;
    },
  };
}

/** CPU seconds (user + system, all threads) a process has used so far; NaN when gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the command name.
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/** Measures the CPU share (1 = one core) of each pid, and of the machine, while `fn` runs. */
export async function cpuDuring<T>(
  pids: Record<string, number>,
  fn: () => Promise<T>,
): Promise<{ result: T; cpu: Record<string, number> }> {
  const before = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, cpuSeconds(p)]));
  const m0 = machineTicks();
  const t0 = performance.now();
  const result = await fn();
  const seconds = (performance.now() - t0) / 1000;
  const m1 = machineTicks();
  const cpu = Object.fromEntries(
    Object.entries(pids).map(([k, p]) => [k, (cpuSeconds(p) - before[k]) / seconds]),
  );
  // The whole machine, in cores (everything: the load generator, other processes).
  cpu.machine = ((m1.busy - m0.busy) / (m1.total - m0.total)) * navigator.hardwareConcurrency;
  return { result, cpu };
}

/** Busy and total CPU time of the whole machine so far, in clock ticks (/proc/stat). */
export function machineTicks(): { busy: number; total: number } {
  const line = Deno.readTextFileSync("/proc/stat").split("\n")[0];
  const n = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = n[3] + (n[4] ?? 0);
  const total = n.reduce((s, x) => s + x, 0);
  return { busy: total - idle, total };
}
