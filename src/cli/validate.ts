/** `validate`: checks every manifest and the dependency graph, printing each problem. */
import { describeProblems, discoverModules } from "../manifest/discover.ts";
import { graphProblems } from "../supervisor/graph.ts";

/** Prints one line per module and problem; returns 1 when there is a problem. */
export async function validateCommand(modulesDir: string): Promise<number> {
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
  return problems > 0 ? 1 : 0;
}
