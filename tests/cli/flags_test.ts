/** The flag table: --help lists exactly a command's flags; --config reads its keys by kind. */
import assert from "node:assert/strict";
import { flagDefault, flagHelp, FLAGS, readConfig } from "../../src/cli/flags.ts";

Deno.test("flags: --help of a command lists its flags and no other command's", () => {
  for (const command of ["run", "validate"] as const) {
    const help = flagHelp(command);
    for (const f of FLAGS) {
      const listed = new RegExp(`^  (-h, )?--${f.name}\\b`, "m").test(help);
      assert.equal(listed, (f.commands as readonly string[]).includes(command), f.name);
    }
  }
  assert.match(flagHelp("run"), /--grpc HOST:PORT +gRPC listener \(default: 127\.0\.0\.1:50051\)/);
  assert.ok(flagHelp("run").split("\n").every((l) => l.length <= 88));
  assert.equal(flagDefault("event-rate"), "100/200");
  assert.throws(() => flagDefault("seed"), /--seed has no default/);
});

Deno.test("flags: --config takes lists, numbers as text and switches; bad kinds are named", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/c.yaml`;
    await Deno.writeTextFile(file, "allowed-host: a.local\nlog-files: 3\ndev: true\n");
    assert.deepEqual(await readConfig(file), {
      "allowed-host": ["a.local"],
      "log-files": "3",
      dev: true,
    });
    for (
      const [text, error] of [
        ["dev: yes please\n", /"dev" must be a boolean/],
        ["grpc: 50051\n", /"grpc" must be a string/],
        ["allowed-origin: [1]\n", /"allowed-origin" must be a string or a list of strings/],
        ["config: other.yaml\n", /unknown key "config"/],
        ["- a\n", /must be a mapping/],
      ] as const
    ) {
      await Deno.writeTextFile(file, text);
      await assert.rejects(readConfig(file), error);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
