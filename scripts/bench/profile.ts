/**
 * Summarises a V8 `.cpuprofile` (from `deno run --cpu-prof`): self time by area (our
 * source, each npm package, Deno's runtime, GC, idle) and the top functions by self time.
 * Run alone: `deno run -A scripts/bench/profile.ts FILE.cpuprofile`.
 */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** The area a script URL belongs to: "src/gateway", "npm:hono", "deno runtime"... */
export function areaOf(url: string, functionName: string): string {
  if (!url) {
    if (functionName.startsWith("(")) return functionName; // (garbage collector), (idle)...
    return "native";
  }
  const npm = /node_modules\/(?:\.deno\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(url) ??
    /npm\/registry\.npmjs\.org\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (npm) return `npm:${npm[1]}`;
  if (url.startsWith("ext:") || url.startsWith("node:")) return "deno runtime";
  const src = /\/(src\/[^/]+|scripts\/[^/]+|modules\/[^/]+)\//.exec(url);
  if (src) return src[1];
  if (/\/main\.ts$/.test(url)) return "main.ts";
  return url.replace(/^.*\//, "");
}

/** Self time by area and the top functions, as text. */
export async function summarizeProfile(path: string, top = 25): Promise<string> {
  const profile = JSON.parse(await Deno.readTextFile(path)) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  let total = 0;
  let idle = 0;
  const areas = new Map<string, number>();
  const functions = new Map<string, number>();
  for (const [id, us] of self) {
    const node = byId.get(id)!;
    const { functionName, url, lineNumber } = node.callFrame;
    total += us;
    if (functionName === "(idle)") idle += us;
    const area = areaOf(url, functionName);
    areas.set(area, (areas.get(area) ?? 0) + us);
    const name = `${functionName || "(anonymous)"} ${
      url ? `${url.replace(/^.*\/(node_modules|src|scripts)\//, "$1/")}:${lineNumber + 1}` : ""
    }`.trim();
    functions.set(name, (functions.get(name) ?? 0) + us);
  }
  const busy = total - idle;
  const pct = (us: number, of: number) => `${((us / of) * 100).toFixed(1).padStart(5)}%`;
  const lines = [
    `sampled ${(total / 1e6).toFixed(1)} s, busy ${(busy / 1e6).toFixed(1)} s ` +
    `(${pct(busy, total).trim()} of the main thread)`,
    "self time by area (share of busy time):",
  ];
  for (const [area, us] of [...areas].sort((a, b) => b[1] - a[1])) {
    if (area === "(idle)") continue;
    lines.push(`  ${pct(us, busy)}  ${area}`);
  }
  lines.push(`top ${top} functions by self time (share of busy time):`);
  for (const [name, us] of [...functions].sort((a, b) => b[1] - a[1]).slice(0, top + 1)) {
    if (name.startsWith("(idle)")) continue;
    lines.push(`  ${pct(us, busy)}  ${name}`);
  }
  return lines.join("\n");
}

if (import.meta.main) {
  for (const file of Deno.args) console.log(`${file}:\n${await summarizeProfile(file)}\n`);
}
