/** The log file flags of `run`: help text, bad values, and `--log-files 0`. */
import assert from "node:assert/strict";
import { ROOT, startOrchestrator } from "../helpers/test_orchestrator.ts";

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", `${ROOT}main.ts`, ...args],
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("run --help documents --log-file-size and --log-files", async () => {
  const { code, stdout } = await cli("run", "--help");
  assert.equal(code, 0);
  assert.match(stdout, /--log-file-size SIZE .*\n.*\n.*\(default: 10M\)/);
  assert.match(
    stdout,
    /--log-files N\s+rotated log files kept.*0 writes no\s+log file\..*systemd journal.*\(default: 5\)/s,
  );
});

Deno.test("bad --log-file-size and --log-files values exit 2 with a clear line", async () => {
  const modules = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  const data = await Deno.makeTempDir({ prefix: "ca-test-data-" });
  try {
    const base = ["run", "--modules", modules, "--data", data];
    const size = await cli(...base, "--log-file-size", "10X");
    assert.equal(size.code, 2);
    assert.match(size.stderr, /^error: --log-file-size: expected a size .* got "10X"\n$/);
    const files = await cli(...base, "--log-files", "many");
    assert.equal(files.code, 2);
    assert.match(files.stderr, /^error: --log-files: expected a whole number .* got "many"\n$/);
  } finally {
    await Deno.remove(modules, { recursive: true });
    await Deno.remove(data, { recursive: true });
  }
});

Deno.test("--log-files 0 writes no log file; the default writes one", async () => {
  const modules = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  const off = await Deno.makeTempDir({ prefix: "ca-test-data-" });
  const on = await Deno.makeTempDir({ prefix: "ca-test-data-" });
  try {
    // Each is asked something first, so its signal handlers are surely installed.
    const a = await startOrchestrator({ modules, data: off, args: ["--log-files", "0"] });
    assert.equal((await fetch(`${a.url}/v1/modules`).then((r) => r.json())).modules.length, 0);
    assert.equal((await a.stop()).code, 0);
    assert.equal(await Deno.stat(`${off}/logs`).catch(() => undefined), undefined);
    const b = await startOrchestrator({ modules, data: on });
    assert.equal((await fetch(`${b.url}/v1/modules`).then((r) => r.json())).modules.length, 0);
    assert.equal((await b.stop()).code, 0);
    // Flushed before exit: the last line ("stopped") is in the file.
    const lines = (await Deno.readTextFile(`${on}/logs/orchestrator.log`)).trimEnd().split("\n");
    assert.equal(JSON.parse(lines.at(-1)!).msg, "stopped");
  } finally {
    for (const d of [modules, off, on]) await Deno.remove(d, { recursive: true });
  }
});
