/**
 * The import-direction check: clean on this repository, and failing on a small workspace
 * once a file cycle, a folder cycle, or an SDK import of an orchestrator file (by path or
 * by package name) is added.
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { checkImports } from "../../scripts/check_imports.ts";
import { ROOT } from "../helpers/test_orchestrator.ts";

/** Writes `files` (path -> text) under a new temporary directory. */
async function workspace(files: Record<string, string>): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "check-imports-" });
  for (const [path, text] of Object.entries(files)) {
    await Deno.mkdir(join(dir, dirname(path)), { recursive: true });
    await Deno.writeTextFile(join(dir, path), text);
  }
  return dir;
}

/** A clean workspace: main -> src/a -> src/b; the SDK imports only itself. */
const CLEAN: Record<string, string> = {
  "deno.json": JSON.stringify({
    name: "@callassistant/orchestrator",
    exports: "./main.ts",
    workspace: ["./packages/sdk-ts"],
  }),
  "packages/sdk-ts/deno.json": JSON.stringify({ name: "@callassistant/sdk", exports: "./mod.ts" }),
  "packages/sdk-ts/mod.ts": 'export { helper } from "./helper.ts";\n',
  "packages/sdk-ts/helper.ts": "export const helper = 1;\n",
  "main.ts": 'import { a } from "./src/a/a.ts";\nconsole.log(a);\n',
  "src/a/a.ts": 'import { b } from "../b/b.ts";\nexport const a = b + 1;\n',
  "src/b/b.ts": "export const b = 1;\n",
  "src/b/c.ts": "export const c = 2;\n",
};

Deno.test("import check: this repository has no cycle and no forbidden import", async () => {
  assert.deepEqual(await checkImports(ROOT), []);
});

Deno.test("import check: a clean workspace passes; each added fault is named", async (t) => {
  const clean = await workspace(CLEAN);
  try {
    assert.deepEqual(await checkImports(clean), []);
  } finally {
    await Deno.remove(clean, { recursive: true });
  }

  const cases: [string, Record<string, string>, RegExp][] = [
    [
      "a file cycle (within one folder)",
      {
        "src/b/b.ts": 'import { c } from "./c.ts";\nexport const b = c;\n',
        "src/b/c.ts": 'import { b } from "./b.ts";\nexport const c = () => b;\n',
      },
      /^import cycle: src\/b\/[bc]\.ts -> src\/b\/[bc]\.ts -> src\/b\/[bc]\.ts$/,
    ],
    [
      "a folder cycle (no file cycle)",
      { "src/b/c.ts": 'import { a } from "../a/a.ts";\nexport const c = a;\n' },
      /^folder import cycle: src\/a <-> src\/b/,
    ],
    [
      "an SDK import of an orchestrator file by path",
      { "packages/sdk-ts/helper.ts": 'export { b as helper } from "../../src/b/b.ts";\n' },
      /^packages\/sdk-ts\/helper\.ts imports src\/b\/b\.ts: a package/,
    ],
    [
      "an SDK import of the orchestrator by package name",
      {
        "packages/sdk-ts/helper.ts":
          'import "@callassistant/orchestrator";\nexport const helper = 1;\n',
      },
      /^packages\/sdk-ts\/helper\.ts imports main\.ts: a package/,
    ],
  ];
  for (const [name, change, expected] of cases) {
    await t.step(name, async () => {
      const dir = await workspace({ ...CLEAN, ...change });
      try {
        const problems = await checkImports(dir);
        assert.equal(problems.length, 1, JSON.stringify(problems));
        assert.match(problems[0].message, expected);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  }

  await t.step("the script exits 1 and prints the problem", async () => {
    const dir = await workspace({
      ...CLEAN,
      "src/b/b.ts": 'import { a } from "../a/a.ts";\nexport const b = a;\n',
    });
    try {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-all", `${ROOT}scripts/check_imports.ts`, dir],
        cwd: ROOT,
        stdin: "null",
      }).output();
      assert.equal(out.code, 1);
      assert.match(new TextDecoder().decode(out.stderr), /import cycle: src\/a\/a\.ts/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});
