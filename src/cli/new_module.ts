/**
 * `new module NAME --lang ts|python [--kind sink|source|converter]`: writes a working module
 * folder (manifest, code on the SDK, a README, a test) under the modules directory.
 *
 * How the module finds its SDK:
 * - TypeScript inside a Deno workspace that has `@callassistant/sdk` (this repository, run
 *   from source or not): nothing to write, the workspace resolves the name;
 * - TypeScript elsewhere: a `deno.json` mapping `@callassistant/sdk` to a packed SDK
 *   (`--sdk DIR`, a folder written by `deno task pack-sdk`) or to a clone of the repository
 *   (`--sdk` its root: its workspace resolves the SDK's own imports);
 * - Python: nothing, the orchestrator puts its SDK (the `callassistant` package) on the
 *   module's PYTHONPATH.
 * The templates are TypeScript code in the module graph, so the compiled binary has them.
 */
import { parseArgs } from "node:util";
import { dirname, join, relative, resolve } from "node:path";
import { type ModuleKind, type ModuleLang, type ModuleSpec, moduleSpec } from "./templates/spec.ts";
import { tsCommand, tsMain, tsTest } from "./templates/ts_module.ts";
import { pyCommand, pyMain, pyTest } from "./templates/py_module.ts";

/** The help of `new`. */
export const NEW_HELP = `Usage: call-assistant new module NAME --lang ts|python [flags]

Writes a working module folder MODULES/NAME: module.yaml, the code on the SDK, a README
and a test. The orchestrator runs it as it is (READY, one entity type NAME with - and .
as _), and validate accepts it.

Flags:
  --lang LANG     ts or python (required)
  --kind KIND     sink, source or converter (default: sink)
  --modules DIR   the modules directory (default: modules)
  --sdk DIR       TypeScript outside this repository: the packed SDK (a folder written
                  by "deno task pack-sdk") or a clone of the repository, mapped in the
                  module's deno.json
  -h, --help      show this help`;

const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const KINDS: ModuleKind[] = ["sink", "source", "converter"];
const LANGS: ModuleLang[] = ["ts", "python"];

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** A usage error: one line, exit 2. */
class UsageError extends Error {}

/** The root of the Deno workspace above `dir` that has `@callassistant/sdk`, if any. */
export function sdkWorkspace(dir: string): string | undefined {
  for (let at = resolve(dir);; at = dirname(at)) {
    try {
      const config = JSON.parse(Deno.readTextFileSync(join(at, "deno.json")));
      for (const member of Array.isArray(config.workspace) ? config.workspace : []) {
        try {
          const m = JSON.parse(Deno.readTextFileSync(join(at, member, "deno.json")));
          if (m.name === "@callassistant/sdk") return at;
        } catch {
          // Not a readable member: look at the next.
        }
      }
    } catch {
      // No deno.json here.
    }
    if (dirname(at) === at) return undefined;
  }
}

/** The files of the module, by path relative to its folder. */
export function moduleFiles(spec: ModuleSpec, sdkImport?: string): Record<string, string> {
  const files: Record<string, string> = {};
  const ts = spec.lang === "ts";
  files["module.yaml"] = `name: "${spec.name}"
version: "${spec.version}"
description: "${spec.description}"
command: ${ts ? tsCommand() : pyCommand()}
dependencies: []
`;
  if (ts) {
    files["main.ts"] = tsMain(spec);
    files["main_test.ts"] = tsTest(spec);
    if (sdkImport) {
      files["deno.json"] =
        JSON.stringify({ imports: { "@callassistant/sdk": sdkImport } }, null, 2) +
        "\n";
    }
  } else {
    files["main.py"] = pyMain(spec);
    files["test_main.py"] = pyTest(spec);
  }
  files["README.md"] = readme(spec, !!sdkImport);
  return files;
}

/**
 * The module's README: every paragraph one line of at most 80 characters and the rest in
 * code blocks, so `deno fmt` leaves it as it is whatever its line width.
 */
function readme(spec: ModuleSpec, mapped: boolean): string {
  const ts = spec.lang === "ts";
  const sdk = ts
    ? mapped
      ? [
        "It imports `@callassistant/sdk` through `deno.json`, mapped to a packed SDK.",
        "(`deno task pack-sdk DIR` in the Call Assistant repository writes one.)",
      ]
      : ["It imports `@callassistant/sdk` from the Deno workspace it lives in."]
    : [
      "It imports `callassistant`: the orchestrator puts it on PYTHONPATH.",
      "Debian's `/usr/bin/python3` runs it (`python3-grpcio`, `python3-protobuf`).",
    ];
  const test = ts
    ? "deno test --allow-all"
    : "PYTHONPATH=<Call Assistant repository>/packages/sdk-python \\\n  /usr/bin/python3 -m unittest";
  return `# ${spec.name}

${spec.description}, by \`call-assistant new module\`.

- kind: ${spec.kind}
- entity type: \`${spec.entityType}\`

The SDK's FlowTable simulates its media: replace it with the real thing.

${sdk.join("\n\n")}

Put this folder in the orchestrator's modules directory: it starts READY.

Create an entity:

\`\`\`sh
curl -s -X POST localhost:8080/v1/entities \\
  -d '{"entityType":"${spec.entityType}","name":"First"}'
\`\`\`

Test it alone, in this folder:

\`\`\`sh
${test}
\`\`\`

The contract is in the Call Assistant protos and README, "Writing a module".
`;
}

/** Writes the module; returns the exit code. */
export async function newCommand(args: string[]): Promise<number> {
  let values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args,
      options: {
        lang: { type: "string" },
        kind: { type: "string" },
        modules: { type: "string" },
        sdk: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: true,
    }));
  } catch (err) {
    const message = (err as Error).message.split("\n")[0].replace(/^Unknown/, "unknown");
    console.error(`error: ${message} (see "new --help")`);
    return 2;
  }
  if (values.help) {
    console.log(NEW_HELP);
    return 0;
  }
  try {
    const [what, name, ...extra] = positionals;
    if (what !== "module") {
      throw new UsageError(`expected "new module NAME", got "new ${what ?? ""}"`);
    }
    if (!name) throw new UsageError("new module: give the module's NAME");
    if (extra.length) throw new UsageError(`new module: unexpected "${extra.join(" ")}"`);
    if (!NAME.test(name)) {
      throw new UsageError(
        `new module: "${name}" is not a module name: lower-case letters, digits, '.', '_' ` +
          `and '-', starting with a letter or digit, at most 63`,
      );
    }
    const lang = values.lang as ModuleLang;
    if (!LANGS.includes(lang)) {
      throw new UsageError(
        `--lang: expected ts or python, got ${JSON.stringify(values.lang ?? "")}`,
      );
    }
    const kind = (values.kind ?? "sink") as ModuleKind;
    if (!KINDS.includes(kind)) {
      throw new UsageError(`--kind: expected one of ${KINDS.join(", ")}, got "${values.kind}"`);
    }
    if (values.sdk && lang !== "ts") throw new UsageError("--sdk goes with --lang ts");
    const modules = resolve(values.modules ?? "modules");
    const dir = join(modules, name);
    const spec = moduleSpec(name, lang, kind);

    let sdkImport: string | undefined;
    if (lang === "ts") {
      if (values.sdk) {
        // A packed SDK, or a clone of the repository (its workspace resolves the rest).
        const main = [
          join(resolve(values.sdk), "sdk", "mod.ts"),
          join(resolve(values.sdk), "packages", "sdk-ts", "mod.ts"),
        ].find(isFile);
        if (!main) {
          throw new Error(
            `--sdk ${values.sdk}: no sdk/mod.ts (a packed SDK) or packages/sdk-ts/mod.ts (a ` +
              `clone of the repository) there; "deno task pack-sdk DIR" writes a packed SDK`,
          );
        }
        const rel = relative(dir, main);
        sdkImport = rel.startsWith(".") ? rel : `./${rel}`;
      } else if (!sdkWorkspace(modules)) {
        throw new Error(
          `${modules} is outside a Deno workspace with @callassistant/sdk: give --sdk DIR, a ` +
            `packed SDK written by "deno task pack-sdk DIR" in the Call Assistant repository`,
        );
      }
    }
    try {
      await Deno.mkdir(dir, { recursive: false });
    } catch (err) {
      if (err instanceof Deno.errors.AlreadyExists) throw new Error(`${dir} already exists`);
      if (err instanceof Deno.errors.NotFound) {
        throw new Error(`${modules}: no such directory (create it, or give --modules DIR)`);
      }
      throw err;
    }
    const files = moduleFiles(spec, sdkImport);
    for (const [path, text] of Object.entries(files)) {
      await Deno.writeTextFile(join(dir, path), text);
    }
    console.log(`wrote ${dir}: ${Object.keys(files).sort().join(", ")}`);
    console.log(`entity type "${spec.entityType}" (a ${kind}); the orchestrator runs it as it is`);
    return 0;
  } catch (err) {
    console.error(`error: ${(err as Error).message}`);
    return err instanceof UsageError ? 2 : 1;
  }
}
