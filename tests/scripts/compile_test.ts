/**
 * The compile task: targets and DENORT_BIN handling. The real base runtime (denort)
 * cannot be downloaded here, so the test hands `deno compile` the deno binary as its
 * base: that proves the whole module graph (protos, schemas, npm packages) compiles, though
 * the result is not a runnable orchestrator.
 */
import assert from "node:assert/strict";
import { compileArgs, DEFAULT_TARGETS, denortVariable } from "../../scripts/compile.ts";
import { ROOT } from "../helpers/test_orchestrator.ts";

async function compile(args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", `${ROOT}scripts/compile.ts`, ...args],
    env,
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("compile: default targets include the Raspberry Pi", () => {
  assert.deepEqual(DEFAULT_TARGETS, ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"]);
  assert.equal(denortVariable("aarch64-unknown-linux-gnu"), "DENORT_BIN_AARCH64_UNKNOWN_LINUX_GNU");
  assert.deepEqual(compileArgs("aarch64-unknown-linux-gnu", "dist").slice(-3), [
    "--output",
    "dist/call-assistant-aarch64-unknown-linux-gnu",
    "main.ts",
  ]);
});

Deno.test("compile: an unknown target or a missing DENORT_BIN file is one clear error", async () => {
  const bad = await compile(["--target", "sparc-sun-solaris"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown target sparc-sun-solaris/);
  const missing = await compile([], { DENORT_BIN: "/no/such/denort" });
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /DENORT_BIN: no file at \/no\/such\/denort/);
});

Deno.test("compile: the module graph compiles with a local base runtime", async () => {
  const out = await Deno.makeTempDir({ prefix: "ca-test-dist-" });
  try {
    const r = await compile(
      ["--target", "x86_64-unknown-linux-gnu", "--out", out],
      { DENORT_BIN: Deno.execPath() },
    );
    assert.equal(r.code, 0, r.stderr);
    const stat = await Deno.stat(`${out}/call-assistant-x86_64-unknown-linux-gnu`);
    assert.ok(stat.size > 50_000_000, `binary of ${stat.size} bytes`);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
