/**
 * Finds every module.yaml below a modules directory and parses it, reporting
 * duplicate names (naming both files) as problems of the later file.
 */
import { join, resolve } from "node:path";
import { formatProblem, type Manifest, type ManifestProblem } from "./manifest.ts";
import { parseManifest } from "./parse.ts";

/** A module found on disk: a valid manifest, or a name with the problems that stop it. */
export type Discovered =
  | { ok: true; manifest: Manifest }
  | { ok: false; name: string; path: string; problems: ManifestProblem[]; digest: string };

const SKIP = new Set(["node_modules", ".git", "__pycache__"]);

/** The largest module.yaml read; a larger one is that module's problem. */
export const MANIFEST_LIMIT_BYTES = 256 * 1024;

/**
 * Reads a manifest of at most MANIFEST_LIMIT_BYTES; a larger file is refused by its size,
 * without being read (a huge file must not cost the orchestrator its memory).
 */
async function readManifest(file: string): Promise<string> {
  const handle = await Deno.open(file);
  try {
    const { size } = await handle.stat();
    if (size > MANIFEST_LIMIT_BYTES) throw new ManifestTooLarge(size);
    // Read one byte more than allowed, in case it grew since the stat.
    const buffer = new Uint8Array(MANIFEST_LIMIT_BYTES + 1);
    let length = 0;
    while (length < buffer.length) {
      const n = await handle.read(buffer.subarray(length));
      if (n === null) break;
      length += n;
    }
    if (length > MANIFEST_LIMIT_BYTES) throw new ManifestTooLarge(length);
    return new TextDecoder().decode(buffer.subarray(0, length));
  } finally {
    handle.close();
  }
}

class ManifestTooLarge extends Error {
  constructor(size: number) {
    super(
      `the file is ${size} bytes, more than the limit of ${MANIFEST_LIMIT_BYTES} bytes ` +
        `(${MANIFEST_LIMIT_BYTES / 1024} KiB)`,
    );
  }
}

async function findManifestFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir)];
  } catch {
    return found;
  }
  entries.sort((a, b) => a.name.localeCompare(b.name));
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isFile && entry.name === "module.yaml") found.push(path);
    else if (entry.isDirectory && !SKIP.has(entry.name) && !entry.name.startsWith(".")) {
      found.push(...await findManifestFiles(path));
    }
  }
  return found;
}

/** The name of a discovered module, valid or not. */
export function discoveredName(d: Discovered): string {
  return d.ok ? d.manifest.name : d.name;
}

/**
 * Scans `modulesDir` recursively and parses every module.yaml, sorted by path. Two files
 * with the same module name make that name one FAILED entry naming both files: neither
 * runs, since the operator's intent is unclear.
 */
export async function discoverModules(modulesDir: string): Promise<Discovered[]> {
  const byName = new Map<string, Discovered[]>();
  for (const file of await findManifestFiles(resolve(modulesDir))) {
    let found: Discovered;
    try {
      const parsed = parseManifest(await readManifest(file), file);
      found = parsed.ok ? parsed : { ...parsed, path: file };
    } catch (err) {
      const name = file.split("/").slice(-2)[0];
      const message = err instanceof ManifestTooLarge
        ? err.message
        : `cannot read: ${(err as Error).message}`;
      found = {
        ok: false,
        name,
        path: file,
        problems: [{ file, line: 0, field: "", message }],
        digest: "",
      };
    }
    const name = discoveredName(found);
    byName.set(name, [...(byName.get(name) ?? []), found]);
  }
  const result: Discovered[] = [];
  for (const [name, entries] of byName) {
    if (entries.length === 1) {
      result.push(entries[0]);
      continue;
    }
    const files = entries.map((d) => d.ok ? d.manifest.path : d.path);
    result.push({
      ok: false,
      name,
      path: files[0],
      problems: [{
        file: files[0],
        line: 1,
        field: "name",
        message: `duplicate module name "${name}": defined in ${files.join(" and ")}`,
      }],
      digest: entries.map((d) => d.ok ? d.manifest.digest : d.digest).join(","),
    });
  }
  return result;
}

/** The digest of a discovered module's manifest text. */
export function discoveredDigest(d: Discovered): string {
  return d.ok ? d.manifest.digest : d.digest;
}

/** One line per problem, for logs and `validate`. */
export function describeProblems(problems: ManifestProblem[]): string {
  return problems.map(formatProblem).join("; ");
}
