/**
 * Packs the TypeScript module SDK for authors outside this repository: writes a
 * self-contained folder with the three packages (`protocol/`, `rpc/`, `sdk/`) whose
 * imports of each other are relative paths and whose npm imports are fully qualified
 * (`npm:@grpc/grpc-js@1.14.7`), so a module maps it with one import-map line:
 *
 *     { "imports": { "@callassistant/sdk": "./callassistant-sdk/sdk/mod.ts" } }
 *
 * Every bare import of a package must be declared in that package's own `deno.json`
 * (the version pinned there is the one written), and no relative import may leave its
 * package (the SDK never reaches into `src/`): either is an error naming the file.
 *
 * Usage: deno task pack-sdk [OUT_DIR]   (default: dist/callassistant-sdk)
 */
import { dirname, join, relative, resolve } from "node:path";

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), "..");

/** The packed packages: source directory under `packages/` and folder in the pack. */
export const PACKED = [
  { dir: "protocol", as: "protocol" },
  { dir: "rpc", as: "rpc" },
  { dir: "sdk-ts", as: "sdk" },
];

interface PackageInfo {
  name: string;
  version: string;
  dir: string;
  as: string;
  exports: Record<string, string>;
  imports: Record<string, string>;
}

function readPackage(root: string, dir: string, as: string): PackageInfo {
  const config = JSON.parse(Deno.readTextFileSync(join(root, "packages", dir, "deno.json")));
  const exports = typeof config.exports === "string" ? { ".": config.exports } : config.exports;
  return {
    name: config.name,
    version: config.version,
    dir,
    as,
    exports,
    imports: config.imports ?? {},
  };
}

/** Files under `dir`, relative, sorted. */
function filesOf(dir: string, prefix = ""): string[] {
  const out: string[] = [];
  for (const entry of Deno.readDirSync(join(dir, prefix))) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory) out.push(...filesOf(dir, rel));
    else if (entry.name.endsWith(".ts")) out.push(rel);
  }
  return out.sort();
}

/** Module specifiers in import/export statements and dynamic imports (not in comments). */
const SPECIFIER = /(\bfrom\s+|\bimport\s*\(\s*|^\s*import\s+)(["'])([^"'\n]+)\2/g;

/** The import-map value for a bare specifier, from `imports` (exact, or a "prefix/" key). */
function mapped(imports: Record<string, string>, specifier: string): string | undefined {
  if (imports[specifier]) return imports[specifier];
  const prefix = Object.keys(imports).filter((k) => k.endsWith("/") && specifier.startsWith(k))
    .sort((a, b) => b.length - a.length)[0];
  return prefix ? imports[prefix] + specifier.slice(prefix.length) : undefined;
}

/** Rewrites one file's specifiers for the pack; throws naming what cannot be packed. */
function rewrite(
  text: string,
  file: string,
  pkg: PackageInfo,
  members: Map<string, PackageInfo>,
): string {
  const fileDir = dirname(file);
  return text.split("\n").map((line) => {
    const trimmed = line.trimStart();
    if (trimmed.startsWith("//") || trimmed.startsWith("*") || trimmed.startsWith("/*")) {
      return line;
    }
    return line.replace(SPECIFIER, (all, lead: string, quote: string, spec: string) => {
      const put = (s: string) => `${lead}${quote}${s}${quote}`;
      if (/^(node|npm|jsr|https?|data):/.test(spec)) return all;
      const where = `packages/${pkg.dir}/${file}`;
      if (spec.startsWith("./") || spec.startsWith("../")) {
        const target = join(fileDir, spec);
        if (target.startsWith("..")) {
          throw new Error(`${where}: "${spec}" leaves the package; import packages by name`);
        }
        return all;
      }
      const member = [...members.values()].find((m) =>
        spec === m.name || spec.startsWith(`${m.name}/`)
      );
      if (member) {
        const sub = spec === member.name ? "." : `.${spec.slice(member.name.length)}`;
        const path = member.exports[sub];
        if (!path) throw new Error(`${where}: "${spec}" is not in ${member.name}'s exports`);
        const from = join(pkg.as, fileDir);
        const to = join(member.as, path);
        const rel = relative(from, to);
        return put(rel.startsWith(".") ? rel : `./${rel}`);
      }
      const value = mapped(pkg.imports, spec);
      if (!value) {
        throw new Error(
          `${where}: "${spec}" is not declared in packages/${pkg.dir}/deno.json "imports"`,
        );
      }
      return put(value.replace(/^npm:\//, "npm:"));
    });
  }).join("\n");
}

/** The pack's README: what it is and the one line that maps it. */
function readme(packages: PackageInfo[]): string {
  const sdk = packages.find((p) => p.as === "sdk")!;
  const npm = new Set<string>();
  for (const p of packages) {
    for (const v of Object.values(p.imports)) npm.add(v.replace(/^npm:\/?/, "").replace(/\/$/, ""));
  }
  return `# ${sdk.name} ${sdk.version}, packed

The Call Assistant module SDK for TypeScript on Deno, with the packages it needs:

${packages.map((p) => `- \`${p.as}/\`: \`${p.name}\` ${p.version}`).join("\n")}

Imports between them are relative; npm packages are imported with their pinned versions
(${[...npm].sort().map((n) => `\`${n}\``).join(", ")}). Map the SDK in your module's
\`deno.json\`:

\`\`\`json
{ "imports": { "@callassistant/sdk": "<path to this folder>/sdk/mod.ts" } }
\`\`\`

and write \`import { serveModule } from "@callassistant/sdk";\`. Deno fetches the npm packages
once (or finds them in its cache: then \`--cached-only\` runs with no network at all).
Written by \`deno task pack-sdk\` in the Call Assistant repository.
`;
}

/**
 * Writes the pack of the packages under `root` (this repository by default) into `outDir`,
 * replacing it; returns the files written.
 */
export async function packSdk(outDir: string, root = ROOT): Promise<string[]> {
  const packages = PACKED.map((p) => readPackage(root, p.dir, p.as));
  const members = new Map(packages.map((p) => [p.name, p]));
  const written: string[] = [];
  const staging = `${outDir}.tmp-${Deno.pid}`;
  await Deno.remove(staging, { recursive: true }).catch(() => {});
  try {
    for (const pkg of packages) {
      const src = join(root, "packages", pkg.dir);
      for (const file of filesOf(src)) {
        const text = rewrite(await Deno.readTextFile(join(src, file)), file, pkg, members);
        const dest = join(staging, pkg.as, file);
        await Deno.mkdir(dirname(dest), { recursive: true });
        await Deno.writeTextFile(dest, text);
        written.push(join(pkg.as, file));
      }
    }
    await Deno.writeTextFile(join(staging, "README.md"), readme(packages));
    await Deno.remove(outDir, { recursive: true }).catch(() => {});
    await Deno.rename(staging, outDir);
  } catch (err) {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
    throw err;
  }
  return written;
}

if (import.meta.main) {
  const out = resolve(Deno.args[0] ?? join(ROOT, "dist", "callassistant-sdk"));
  try {
    const files = await packSdk(out);
    console.log(`pack-sdk: ${files.length} files in ${out}`);
    console.log(`map it with: { "imports": { "@callassistant/sdk": "${out}/sdk/mod.ts" } }`);
  } catch (err) {
    console.error(`pack-sdk: ${(err as Error).message}`);
    Deno.exit(1);
  }
}
