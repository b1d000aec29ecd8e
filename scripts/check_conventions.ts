/**
 * The naming and privacy check of `deno task check`:
 * - no two files of the repository share a name, wherever they are (a name says what a file holds, so
 *   a search for it finds one file), except entry points and configuration named by
 *   convention (`ENTRY_NAMES`) and generated stubs;
 * - class members in `src/` and `packages/` are private the ECMAScript way (`#name`,
 *   private at run time too), not with TypeScript's `private` keyword. A `private
 *   constructor` (no ECMAScript form) and `protected` members stay.
 *
 *   deno run --allow-all scripts/check_conventions.ts [root]
 *
 * Prints every problem and exits 1 when there is any.
 */

/** Names many folders have by convention. */
export const ENTRY_NAMES = new Set([
  "mod.ts",
  "main.ts",
  "main.py",
  "__init__.py",
  "module.yaml",
  "README.md",
  "deno.json",
  ".gitignore",
]);

/** Generated files: their names follow the protos. */
const GENERATED = [/^packages\/protocol\/gen\//, /\/v1\//];

/** Files (repository paths) whose name another file has too, grouped by name. */
export function duplicateNames(paths: string[]): Map<string, string[]> {
  const byName = new Map<string, string[]>();
  for (const path of paths) {
    if (GENERATED.some((g) => g.test(path))) continue;
    const name = path.slice(path.lastIndexOf("/") + 1);
    if (ENTRY_NAMES.has(name)) continue;
    byName.set(name, [...byName.get(name) ?? [], path]);
  }
  return new Map([...byName].filter(([, list]) => list.length > 1));
}

// A member declared with the `private` keyword: `private x`, `private static x`,
// `static private x`, or a constructor parameter property (`(private readonly x: T`).
const PRIVATE_MEMBER = /^\s*(?:static\s+)?private\s+(?!constructor\b)|[(,]\s*private\s+/;

/** Line numbers (1-based) of `private` members in a TypeScript file's text. */
export function privateKeywordLines(text: string): number[] {
  const lines: number[] = [];
  text.split("\n").forEach((line, i) => {
    const code = line.replace(/\/\/.*$/, "");
    if (/^\s*\*/.test(code)) return; // a doc comment line
    if (PRIVATE_MEMBER.test(code)) lines.push(i + 1);
  });
  return lines;
}

// What the repository ignores (.gitignore): build output, caches, local data.
const IGNORED_DIRS = new Set(["dist", ".data", "node_modules", "__pycache__", "build", ".cache"]);
const IGNORED_FILES = /\.(pyc|tmp)$/;

/** The repository's files below `root` (paths relative to it), without what git ignores. */
async function repositoryFiles(root: string, dir = ""): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(`${root}/${dir || "."}`)) {
    const path = dir ? `${dir}/${entry.name}` : entry.name;
    if (entry.isDirectory) {
      const skip = entry.name.startsWith(".") || IGNORED_DIRS.has(entry.name) ||
        entry.name.endsWith(".egg-info");
      if (!skip) files.push(...await repositoryFiles(root, path));
    } else if (entry.isFile && !IGNORED_FILES.test(entry.name)) {
      files.push(path);
    }
  }
  return files;
}

/** Every problem in the files of the repository at `root`, one line each. */
export async function checkConventions(root: string): Promise<string[]> {
  const paths = (await repositoryFiles(root)).sort();
  const problems: string[] = [];
  for (const [name, list] of duplicateNames(paths)) {
    problems.push(`the name ${name} is taken ${list.length} times: ${list.join(", ")}`);
  }
  for (const path of paths) {
    if (!/^(src|packages)\/.*\.ts$/.test(path) || GENERATED.some((g) => g.test(path))) continue;
    if (path.startsWith("src/gen/")) continue;
    for (const line of privateKeywordLines(await Deno.readTextFile(`${root}/${path}`))) {
      problems.push(`${path}:${line}: a TypeScript \`private\` member: use #name`);
    }
  }
  return problems;
}

if (import.meta.main) {
  const problems = await checkConventions(Deno.args[0] ?? ".");
  for (const p of problems) console.error(p);
  if (problems.length) Deno.exit(1);
  console.log("conventions check: file names unique, members private with #");
}
