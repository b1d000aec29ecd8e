/**
 * `validate`: checks every manifest and the dependency graph, printing each problem, and
 * optionally what a running orchestrator would change on reload.
 */
import { describeProblems, type Discovered, discoverModules } from "../manifest/discover.ts";
import { graphProblems } from "../supervisor/graph.ts";
import { isEmptyPlan, planReload } from "../supervisor/reload.ts";

/** Prints the reload plan against the orchestrator at `url`; returns false when unreachable. */
async function printPlan(url: string, discovered: Discovered[]): Promise<boolean> {
  let modules: { name: string; manifestDigest: string }[];
  try {
    const res = await fetch(new URL("/v1/modules", url));
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    modules = (await res.json()).modules;
  } catch (err) {
    console.error(`error: --against ${url}: cannot read /v1/modules: ${(err as Error).message}`);
    return false;
  }
  const plan = planReload(new Map(modules.map((m) => [m.name, m.manifestDigest])), discovered);
  if (isEmptyPlan(plan)) console.log(`no changes against ${url}`);
  for (const name of plan.added) console.log(`would start   ${name} (new manifest)`);
  for (const name of plan.removed) console.log(`would stop    ${name} (manifest removed)`);
  for (const name of plan.changed) console.log(`would restart ${name} (manifest changed)`);
  return true;
}

/** Prints one line per module and problem; returns 1 when there is a problem. */
export async function validateCommand(modulesDir: string, against?: string): Promise<number> {
  try {
    const stat = await Deno.stat(modulesDir);
    if (!stat.isDirectory) throw new Error("not a directory");
  } catch (err) {
    console.error(`error: --modules ${modulesDir}: ${(err as Error).message}`);
    return 2;
  }
  const discovered = await discoverModules(modulesDir);
  const valid = discovered.flatMap((d) => d.ok ? [d.manifest] : []);
  const names = new Set(discovered.map((d) => d.ok ? d.manifest.name : d.name));
  const graph = graphProblems(valid, names);
  let problems = 0;
  for (const d of discovered) {
    const name = d.ok ? d.manifest.name : d.name;
    const problem = d.ok
      ? (graph.has(name) ? `${d.manifest.path}: dependencies: ${graph.get(name)}` : "")
      : describeProblems(d.problems);
    if (problem) {
      problems++;
      console.log(`FAIL ${name}: ${problem}`);
    } else console.log(`ok   ${name} (${d.ok ? d.manifest.path : ""})`);
  }
  console.log(`${discovered.length} modules, ${problems} with problems`);
  if (against && !(await printPlan(against, discovered))) return 2;
  return problems > 0 ? 1 : 0;
}
