/** Dependency graph checks: unknown dependencies, cycles, and the start order. */

/** A node: a module name and the names it depends on. */
export interface GraphNode {
  name: string;
  dependencies: string[];
}

/** Problems by module name: unknown dependencies and cycles ("a -> b -> a"). */
export function graphProblems(nodes: GraphNode[], known: Set<string>): Map<string, string> {
  const problems = new Map<string, string>();
  const byName = new Map(nodes.map((n) => [n.name, n]));
  for (const n of nodes) {
    const unknown = n.dependencies.filter((d) => !known.has(d));
    if (unknown.length > 0) {
      problems.set(n.name, `unknown dependency ${unknown.map((d) => `"${d}"`).join(", ")}`);
    }
  }
  // Depth-first search with colours; every module on a cycle is reported with the cycle.
  const colour = new Map<string, "grey" | "black">();
  const stack: string[] = [];
  const visit = (name: string) => {
    colour.set(name, "grey");
    stack.push(name);
    for (const dep of byName.get(name)?.dependencies ?? []) {
      if (!byName.has(dep)) continue;
      if (colour.get(dep) === "grey") {
        const cycle = [...stack.slice(stack.indexOf(dep)), dep];
        for (const member of cycle) {
          if (!problems.has(member)) {
            problems.set(member, `dependency cycle: ${cycle.join(" -> ")}`);
          }
        }
      } else if (!colour.has(dep)) visit(dep);
    }
    stack.pop();
    colour.set(name, "black");
  };
  for (const n of [...nodes].sort((a, b) => a.name.localeCompare(b.name))) {
    if (!colour.has(n.name)) visit(n.name);
  }
  return problems;
}

/**
 * Groups modules into levels: each level depends only on earlier ones, so a level starts
 * in parallel after the previous one and stops in reverse. Nodes on cycles are left out.
 */
export function levels(nodes: GraphNode[]): string[][] {
  const names = new Set(nodes.map((n) => n.name));
  const placed = new Set<string>();
  const result: string[][] = [];
  let remaining = nodes.filter((n) => n.dependencies.every((d) => names.has(d)));
  while (remaining.length > 0) {
    const level = remaining.filter((n) => n.dependencies.every((d) => placed.has(d)));
    if (level.length === 0) break;
    level.forEach((n) => placed.add(n.name));
    result.push(level.map((n) => n.name).sort());
    remaining = remaining.filter((n) => !placed.has(n.name));
  }
  return result;
}
