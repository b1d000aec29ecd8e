/**
 * The import-direction check of `deno task check`: the code has no import cycles (between
 * files, or between the folders of `src/`), and the
 * packages (`packages/`: protocol, rpc, SDK) never import the orchestrator (`src/`,
 * `main.ts`) or the example modules (`modules/`). The import graph comes from madge
 * (npm); the workspace's package names (`@callassistant/...`) are mapped to their files
 * so imports by name count as well as relative ones.
 *
 *   deno run --allow-all scripts/check_imports.ts [root]
 *
 * Prints every cycle and forbidden import and exits 1 when there is any.
 */
import madge from "madge";
import { join, relative, resolve } from "node:path";

/** What the check looks at, relative to the root. */
export const CHECKED = ["main.ts", "src", "packages", "modules", "scripts"];
/** Generated code: read for edges, but its own imports are the generator's business. */
const GENERATED = ["packages/protocol/gen/", "src/gen/"];
/** Importers (by path prefix) and what they must not import. */
export const FORBIDDEN: { from: string; to: string[]; why: string }[] = [
  {
    from: "packages/",
    to: ["src/", "modules/", "main.ts", "scripts/", "tests/"],
    why: "a package is published on its own and must not reach into the orchestrator",
  },
  {
    from: "src/",
    to: ["modules/", "scripts/", "tests/"],
    why: "the orchestrator does not depend on example modules, scripts or tests",
  },
];

/** One problem found. */
export interface ImportProblem {
  kind: "cycle" | "forbidden";
  message: string;
}

interface DenoConfig {
  name?: string;
  exports?: string | Record<string, string>;
  workspace?: string[];
}

/** `compilerOptions.paths` mapping each workspace package name (and sub-path) to its file. */
async function workspacePaths(root: string): Promise<Record<string, string[]>> {
  const rootConfig = JSON.parse(await Deno.readTextFile(join(root, "deno.json"))) as DenoConfig;
  const paths: Record<string, string[]> = {};
  for (const member of [".", ...(rootConfig.workspace ?? [])]) {
    const config = JSON.parse(
      await Deno.readTextFile(join(root, member, "deno.json")),
    ) as DenoConfig;
    if (!config.name || !config.exports) continue;
    const exports = typeof config.exports === "string" ? { ".": config.exports } : config.exports;
    for (const [sub, file] of Object.entries(exports)) {
      const name = sub === "." ? config.name : `${config.name}/${sub.replace(/^\.\//, "")}`;
      paths[name] = [join(member, file)];
    }
  }
  return paths;
}

/** Checks the code under `root`; returns every cycle and forbidden import. */
export async function checkImports(root: string): Promise<ImportProblem[]> {
  root = resolve(root);
  const present: string[] = [];
  for (const p of CHECKED) {
    try {
      await Deno.stat(join(root, p));
      present.push(join(root, p));
    } catch { /* a root without this folder */ }
  }
  const result = await madge(present, {
    baseDir: root,
    fileExtensions: ["ts", "js"],
    excludeRegExp: [/node_modules/],
    tsConfig: { compilerOptions: { baseUrl: root, paths: await workspacePaths(root) } },
    detectiveOptions: { ts: { skipTypeImports: false }, es6: { skipTypeImports: false } },
  });
  const problems: ImportProblem[] = [];
  for (const cycle of result.circular()) {
    problems.push({ kind: "cycle", message: `import cycle: ${[...cycle, cycle[0]].join(" -> ")}` });
  }
  const graph = result.obj() as Record<string, string[]>;
  for (const [file, deps] of Object.entries(graph)) {
    const from = relative(root, resolve(root, file));
    if (GENERATED.some((g) => from.startsWith(g))) continue;
    for (const dep of deps) {
      const to = relative(root, resolve(root, dep));
      for (const rule of FORBIDDEN) {
        if (from.startsWith(rule.from) && rule.to.some((t) => to === t || to.startsWith(t))) {
          problems.push({
            kind: "forbidden",
            message: `${from} imports ${to}: ${rule.why}`,
          });
        }
      }
    }
  }
  for (const cycle of folderCycles(graph, root)) {
    problems.push({
      kind: "cycle",
      message: `folder import cycle: ${cycle.join(" <-> ")} (files in these folders import ` +
        `each other's; one of them should depend on the other only)`,
    });
  }
  return problems;
}

/** The folder of an orchestrator file (`src/<folder>`), or undefined outside `src/`. */
function srcFolder(file: string): string | undefined {
  const parts = file.split("/");
  return parts[0] === "src" && parts.length > 2 ? `${parts[0]}/${parts[1]}` : undefined;
}

/** Groups of `src/` folders that import each other in a circle (Tarjan's SCC). */
function folderCycles(graph: Record<string, string[]>, root: string): string[][] {
  const edges = new Map<string, Set<string>>();
  for (const [file, deps] of Object.entries(graph)) {
    const a = srcFolder(relative(root, resolve(root, file)));
    if (!a) continue;
    for (const dep of deps) {
      const b = srcFolder(relative(root, resolve(root, dep)));
      if (!b || b === a) continue;
      if (!edges.has(a)) edges.set(a, new Set());
      edges.get(a)!.add(b);
    }
  }
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const groups: string[][] = [];
  const visit = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const group: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        group.push(w);
      } while (w !== v);
      if (group.length > 1) groups.push(group.sort());
    }
  };
  for (const v of edges.keys()) if (!index.has(v)) visit(v);
  return groups;
}

if (import.meta.main) {
  const root = Deno.args[0] ?? ".";
  const problems = await checkImports(root);
  for (const p of problems) console.error(p.message);
  if (problems.length > 0) {
    console.error(`import check: ${problems.length} problem(s)`);
    Deno.exit(1);
  }
  console.log("import check: no cycles, no forbidden imports");
}
