/**
 * Setup honesty: every system program and Python module the tests, scripts and modules use
 * must come from a Debian package that `scripts/setup.ts` installs (or one those depend on),
 * or from the Essential/required set every Debian 12 root has. Setup installs with
 * `--no-install-recommends`, so a package that is only recommended does not count.
 *
 * Nothing here is a hand-kept list: the sources are scanned for absolute paths under /usr,
 * /bin and /sbin, for programs started by name (`new Deno.Command("cp")`, a manifest's
 * `command`, the words of an `sh -c` script), and for Python imports; each is located and
 * its owner asked of `dpkg -S`; the allowed packages are setup's lists plus their
 * Depends/Pre-Depends closure, read from dpkg's database.
 */
import assert from "node:assert/strict";
import { wantedPackages } from "../../scripts/setup.ts";
import { ROOT } from "../helpers/test_orchestrator.ts";

/** Directories scanned, and the file types read. */
const SCANNED = ["src", "packages", "scripts", "tests", "modules"];
const TYPES = /\.(ts|py|sh|ya?ml)$/;
/** Generated code and data: nothing is run from there. */
const SKIPPED = /^(packages\/protocol\/gen|src\/gen|tests\/fixtures\/bad-yaml)\//;
/** Programs that are not Debian packages by design: Deno itself, and Node's npx for gen. */
const NOT_DEBIAN = new Set(["deno", "npx", "node"]);
/** Shell words that are not programs. */
const SHELL_WORDS = new Set(["then", "do", "done", "fi", "else", "elif", "if", "for", "while"]);
const SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin";
const THIS_FILE = "tests/scripts/setup_packages_test.ts";

const decoder = new TextDecoder();

function sh(script: string, env: Record<string, string> = {}): string {
  const out = new Deno.Command("/bin/sh", {
    args: ["-c", script],
    env: { PATH: SYSTEM_PATH, ...env },
    clearEnv: true,
  }).outputSync();
  return decoder.decode(out.stdout).trim();
}

/** Repository files to scan, relative to ROOT. */
function sourceFiles(): string[] {
  const found: string[] = [];
  const walk = (rel: string) => {
    for (const entry of Deno.readDirSync(`${ROOT}${rel}`)) {
      const path = `${rel}/${entry.name}`;
      if (entry.name.startsWith(".") || entry.name === "node_modules") continue;
      if (entry.isDirectory) walk(path);
      else if (TYPES.test(entry.name) && !SKIPPED.test(path) && path !== THIS_FILE) {
        found.push(path);
      }
    }
  };
  for (const dir of SCANNED) walk(dir);
  return found.sort();
}

/** Where each thing is used: thing -> files. */
type Uses = Map<string, Set<string>>;

function use(uses: Uses, thing: string, file: string): void {
  if (!uses.has(thing)) uses.set(thing, new Set());
  uses.get(thing)!.add(file);
}

const ABSOLUTE = /(?<![\w./$-])\/(?:usr\/(?:s?bin|lib|libexec|share)|s?bin)\/[\w.+/-]*[\w+-]/g;
const COMMAND_CALL = /new Deno\.Command\(\s*["']([A-Za-z][\w.+-]*)["']/g;
const MANIFEST_COMMAND = /\bcommand:\s*(?:\[\s*)?\\?["']([A-Za-z][\w.+-]*)/g;
const SH_SCRIPT = /\[\s*\\?["'](?:\/bin\/)?sh\\?["'],\s*\\?["']-c\\?["'],\s*\\?["']([^"'\\]+)/g;

/** The commands a shell script starts: the first word of each simple command. */
function scriptCommands(script: string): string[] {
  return script.split(/[;&|\n()]+/).map((part) => part.trim().split(/\s+/))
    .map((words) => words.find((w) => !/^\w+=/.test(w) && w !== "exec") ?? "")
    .filter((w) => /^[A-Za-z][\w.+-]*$/.test(w) && !SHELL_WORDS.has(w));
}

/** Absolute paths and program names the sources use. */
function scanPrograms(files: string[]): { paths: Uses; names: Uses } {
  const paths: Uses = new Map();
  const names: Uses = new Map();
  for (const file of files) {
    const text = Deno.readTextFileSync(`${ROOT}${file}`);
    for (const m of text.matchAll(ABSOLUTE)) {
      if (!m[0].startsWith("/usr/local/")) use(paths, m[0], file);
    }
    for (const m of text.matchAll(COMMAND_CALL)) use(names, m[1], file);
    for (const m of text.matchAll(MANIFEST_COMMAND)) use(names, m[1], file);
    for (const m of text.matchAll(SH_SCRIPT)) {
      for (const word of scriptCommands(m[1])) use(names, word, file);
    }
    if (file.endsWith(".sh")) {
      // Shell functions the script defines are not programs.
      const functions = new Set([...text.matchAll(/^\s*(\w+)\s*\(\)/gm)].map((m) => m[1]));
      for (const line of text.split("\n").filter((l) => !l.trim().startsWith("#"))) {
        for (const word of scriptCommands(line)) {
          if (!functions.has(word)) use(names, word, file);
        }
      }
    }
  }
  for (const name of NOT_DEBIAN) names.delete(name);
  return { paths, names };
}

/** Top-level Python modules imported by the .py files, and by whom. */
function scanPythonImports(files: string[]): Uses {
  const imports: Uses = new Map();
  const IMPORT =
    /^\s*(?:from\s+([A-Za-z_][\w]*)[\w.]*\s+import\b|import\s+([A-Za-z_][\w.]*(?:\s*,\s*[A-Za-z_][\w.]*)*))/gm;
  for (const file of files.filter((f) => f.endsWith(".py"))) {
    for (const m of Deno.readTextFileSync(`${ROOT}${file}`).matchAll(IMPORT)) {
      const names = m[1] ? [m[1]] : m[2].split(",").map((n) => n.trim().split(".")[0]);
      for (const name of names) use(imports, name, file);
    }
  }
  return imports;
}

/** Where Debian's python3 finds each module: a file, "built-in", or "" when missing. */
function pythonOrigins(names: string[], pythonPath: string): Map<string, string> {
  const script = [
    "import importlib.util, json, sys",
    "out = {}",
    "for n in json.loads(sys.argv[1]):",
    "    try:",
    "        s = importlib.util.find_spec(n)",
    "    except Exception:",
    "        s = None",
    "    out[n] = '' if s is None else (s.origin or 'namespace')",
    "print(json.dumps(out))",
  ].join("\n");
  const out = new Deno.Command("/usr/bin/python3", {
    args: ["-c", script, JSON.stringify(names)],
    env: { PYTHONPATH: pythonPath, PATH: SYSTEM_PATH },
    clearEnv: true,
  }).outputSync();
  return new Map(Object.entries(JSON.parse(decoder.decode(out.stdout))));
}

/** The installed packages: name -> what they depend on and provide. */
interface Installed {
  depends: string[][];
  basic: boolean;
}

function installedPackages(): {
  packages: Map<string, Installed>;
  providers: Map<string, string[]>;
} {
  const text = sh(
    "dpkg-query -W -f='${Package}\\t${db:Status-Abbrev}\\t${Essential}\\t${Priority}\\t" +
      "${Pre-Depends}, ${Depends}\\t${Provides}\\n'",
  );
  const packages = new Map<string, Installed>();
  const providers = new Map<string, string[]>();
  const names = (s: string) => s.split("|").map((a) => a.trim().split(/[\s(:]/)[0]).filter(Boolean);
  for (const line of text.split("\n")) {
    const [name, status, essential, priority, depends, provides] = line.split("\t");
    if (!status?.startsWith("ii")) continue;
    packages.set(name, {
      depends: (depends ?? "").split(",").map(names).filter((alts) => alts.length > 0),
      basic: essential === "yes" || priority === "required",
    });
    for (const p of (provides ?? "").split(",").flatMap(names)) {
      providers.set(p, [...(providers.get(p) ?? []), name]);
    }
  }
  return { packages, providers };
}

/** Packages `roots` bring in through Depends and Pre-Depends (installed ones). */
function closure(
  roots: string[],
  { packages, providers }: ReturnType<typeof installedPackages>,
): Set<string> {
  const seen = new Set<string>();
  const queue = [...roots];
  while (queue.length) {
    const name = queue.pop()!;
    const real = packages.has(name) ? [name] : providers.get(name) ?? [];
    for (const r of real) {
      if (seen.has(r)) continue;
      seen.add(r);
      for (const alts of packages.get(r)!.depends) {
        // Any installed alternative satisfies the dependency; keep them all.
        queue.push(...alts.filter((a) => packages.has(a) || providers.has(a)));
      }
    }
  }
  return seen;
}

/**
 * The packages owning each path, asked of `dpkg -S` in one call; the /bin and /usr/bin twins
 * (merged /usr) and a symlink's target are asked too.
 */
function owners(paths: string[]): Map<string, string[]> {
  const twin = (p: string) => p.startsWith("/usr/") ? p.slice(4) : `/usr${p}`;
  const asked = new Map<string, string[]>();
  for (const path of paths) {
    let real = path;
    try {
      real = Deno.realPathSync(path);
    } catch {
      // Missing: reported by the caller.
    }
    asked.set(path, [...new Set([path, twin(path), real, twin(real)])]);
  }
  const all = [...new Set([...asked.values()].flat())];
  const out = new Deno.Command("dpkg", { args: ["-S", ...all], stderr: "null" }).outputSync();
  const byPath = new Map<string, string[]>();
  for (const line of decoder.decode(out.stdout).split("\n")) {
    const m = /^([^:]+(?::[\w-]+)?(?:, [^:]+(?::[\w-]+)?)*): (\S+)$/.exec(line);
    if (!m || line.startsWith("diversion")) continue;
    byPath.set(m[2], m[1].split(", ").map((p) => p.split(":")[0]));
  }
  return new Map(
    [...asked].map(([path, tried]) => [
      path,
      [...new Set(tried.flatMap((p) => byPath.get(p) ?? []))].sort(),
    ]),
  );
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

const onDebian = exists("/usr/bin/dpkg") && exists("/usr/bin/python3");

Deno.test({
  name: "setup installs every Debian package the tests, scripts and modules use",
  ignore: !onDebian,
  fn() {
    const files = sourceFiles();
    const { paths, names } = scanPrograms(files);
    const installed = installedPackages();
    const setupPackages = Object.keys(wantedPackages(true));
    const basic = [...installed.packages].filter(([, p]) => p.basic).map(([n]) => n);
    const allowed = closure([...setupPackages, ...basic], installed);
    const problems: string[] = [];
    const by = (u: Set<string>) => [...u].slice(0, 3).join(", ");

    // The README's commands for the running orchestrator run as written
    // (tests/media/readme_commands_test.ts): curl, and what its answers are piped through.
    for (const line of Deno.readTextFileSync(`${ROOT}README.md`).split("\n")) {
      if (!line.startsWith("curl ")) continue;
      use(names, "curl", "README.md");
      // Pipes inside quotes are jq's own, not the shell's.
      const shell = line.replace(/'[^']*'|"[^"]*"/g, "''");
      for (const m of shell.matchAll(/\|\s*([a-z][\w.+-]*)/g)) use(names, m[1], "README.md");
    }
    // Programs started by name: found on the system PATH, or shell builtins.
    for (const [name, users] of names) {
      const where = sh(`command -v '${name}'`);
      if (!where) problems.push(`"${name}" (run by ${by(users)}) is not installed`);
      else if (where.startsWith("/")) use(paths, where, [...users][0]);
    }
    // Python modules, as Debian's python3 finds them with the SDK on its path.
    const sdk = `${ROOT}packages/sdk-python`;
    const imports = scanPythonImports(files);
    const origins = pythonOrigins([...imports.keys()], exists(sdk) ? sdk : "");
    for (const [name, origin] of origins) {
      const users = imports.get(name)!;
      const local = [...users].some((f) =>
        exists(`${ROOT}${f.replace(/[^/]+$/, "")}${name}.py`) ||
        exists(`${ROOT}${f.replace(/[^/]+$/, "")}${name}`)
      );
      if (local || origin.startsWith(ROOT)) continue;
      if (!origin) problems.push(`Python module "${name}" (imported by ${by(users)}) is missing`);
      else if (origin.startsWith("/")) use(paths, origin, [...users][0]);
    }
    const setupFiles = Object.entries(wantedPackages(true));
    const owned = owners([...paths.keys(), ...setupFiles.map(([, file]) => file)]);
    for (const [path, users] of paths) {
      if (!exists(path)) {
        problems.push(`${path} (used by ${by(users)}) is not installed`);
        continue;
      }
      const pkgs = owned.get(path)!;
      if (pkgs.length === 0) {
        problems.push(`${path} (used by ${by(users)}) belongs to no Debian package`);
      } else if (!pkgs.some((p) => allowed.has(p))) {
        problems.push(
          `${path} (used by ${by(users)}) comes from ${pkgs.join(" or ")}, which ` +
            `scripts/setup.ts does not install (nor a package it installs depends on it), ` +
            `and which is not Essential or required in Debian 12`,
        );
      }
    }
    // The file setup checks for each package is that package's.
    for (const [pkg, file] of setupFiles) {
      if (!owned.get(file)!.includes(pkg)) {
        problems.push(`scripts/setup.ts checks ${file} for ${pkg}, but ${pkg} does not own it`);
      }
    }
    assert.deepEqual(problems, [], `\n${problems.join("\n")}`);
    // The scan saw what it must see (so a broken scan cannot pass quietly).
    assert.ok(paths.has("/usr/bin/python3"), "Debian's python3 was found in the sources");
    assert.ok(names.has("openssl") && names.has("cp"), "programs started by name were found");
    assert.ok(names.get("jq")?.has("README.md"), "the README's jq was found");
    assert.ok(origins.get("grpc")?.startsWith("/usr/lib/python3/dist-packages/"));
  },
});

Deno.test({
  name: "the package closure: Depends count, Recommends do not",
  ignore: !onDebian,
  fn() {
    const installed = installedPackages();
    // protobuf-compiler recommends libprotobuf-dev (the well-known .proto files): not brought in.
    const compiler = closure(["protobuf-compiler"], installed);
    if (installed.packages.has("protobuf-compiler")) {
      assert.ok(compiler.has("protobuf-compiler"));
      assert.ok(!compiler.has("libprotobuf-dev"), "a Recommends is not a dependency");
    }
    // python3-grpcio depends on python3 (through the virtual python3:any too).
    const grpc = closure(["python3-grpcio"], installed);
    assert.ok(grpc.has("python3") || grpc.has("python3-minimal"), [...grpc].join(" "));
    const owned = owners(["/bin/sh", "/usr/bin/cp"]);
    assert.deepEqual(owned.get("/bin/sh"), ["dash"]);
    assert.deepEqual(owned.get("/usr/bin/cp"), ["coreutils"], "merged /usr: the twin is tried");
  },
});
