/**
 * `deno task pack-sdk`: the packed SDK imports only relative paths, `node:` and pinned `npm:`
 * specifiers; a package that imports something its own deno.json does not declare, or
 * reaches out of its folder (into `src/`), cannot be packed. (A module outside the
 * repository running on the pack is tested in `tests/cli/new_test.ts`.)
 */
import assert from "node:assert/strict";
import { packSdk } from "../../scripts/pack_sdk.ts";
import { ROOT } from "../helpers/test_orchestrator.ts";

const SPECIFIER = /(?:\bfrom\s+|\bimport\s*\(\s*|^\s*import\s+)["']([^"'\n]+)["']/gm;

async function packedSpecifiers(dir: string): Promise<Set<string>> {
  const found = new Set<string>();
  for (const sub of ["protocol", "rpc", "sdk"]) {
    const list = await new Deno.Command("find", { args: [`${dir}/${sub}`, "-name", "*.ts"] })
      .output();
    for (const file of new TextDecoder().decode(list.stdout).trim().split("\n")) {
      const text = (await Deno.readTextFile(file)).split("\n")
        .filter((l) => !/^\s*(\*|\/\/)/.test(l)).join("\n");
      for (const m of text.matchAll(SPECIFIER)) found.add(m[1]);
    }
  }
  return found;
}

Deno.test("pack-sdk writes the three packages with relative and pinned imports only", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ca-test-pack-" });
  try {
    const files = await packSdk(`${dir}/callassistant-sdk`);
    assert.ok(files.includes("sdk/mod.ts") && files.includes("rpc/mod.ts"));
    assert.ok(files.includes("protocol/gen/callassistant/v1/entity_pb.ts"));
    const specifiers = await packedSpecifiers(`${dir}/callassistant-sdk`);
    const bare = [...specifiers].filter((s) => !/^(\.\.?\/|node:|npm:@?[^@]+@\d)/.test(s));
    assert.deepEqual(bare, [], "every import is relative, node: or a pinned npm:");
    assert.ok(specifiers.has("npm:@grpc/grpc-js@1.14.7"));
    assert.ok(specifiers.has("../protocol/mod.ts") && specifiers.has("../rpc/mod.ts"));
    const readme = await Deno.readTextFile(`${dir}/callassistant-sdk/README.md`);
    assert.match(readme, /"@callassistant\/sdk": "<path to this folder>\/sdk\/mod\.ts"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pack-sdk refuses undeclared imports and imports out of a package", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ca-test-pack-" });
  try {
    await Deno.mkdir(`${dir}/root`);
    await new Deno.Command("cp", { args: ["-r", `${ROOT}packages`, `${dir}/root/`] }).output();
    const mod = `${dir}/root/packages/sdk-ts/mod.ts`;
    const original = await Deno.readTextFile(mod);

    await Deno.writeTextFile(mod, `import "../../src/orchestrator.ts";\n${original}`);
    await assert.rejects(
      packSdk(`${dir}/out`, `${dir}/root`),
      /packages\/sdk-ts\/mod\.ts: "\.\.\/\.\.\/src\/orchestrator\.ts" leaves the package/,
    );
    await Deno.writeTextFile(mod, `import { parse } from "yaml";\n${original}`);
    await assert.rejects(
      packSdk(`${dir}/out`, `${dir}/root`),
      /packages\/sdk-ts\/mod\.ts: "yaml" is not declared in packages\/sdk-ts\/deno\.json "imports"/,
    );
    // Nothing half-written is left behind.
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["root"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the documented alternative: Deno's links to a clone's packages resolve the SDK", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ca-test-links-" });
  try {
    await Deno.writeTextFile(
      `${dir}/deno.json`,
      JSON.stringify({
        links: ["sdk-ts", "rpc", "protocol"].map((p) => `${ROOT}packages/${p}`),
        imports: { "@callassistant/sdk": "jsr:@callassistant/sdk@0.1.0" },
      }),
    );
    await Deno.writeTextFile(
      `${dir}/main.ts`,
      'import { SDK_VERSION } from "@callassistant/sdk";\nconsole.log(SDK_VERSION);\n',
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", "main.ts"],
      cwd: dir,
      stdin: "null",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.match(stdout, /^callassistant-sdk-ts\/\d+\.\d+\.\d+$/m);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
