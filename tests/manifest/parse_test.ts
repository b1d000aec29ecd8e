import assert from "node:assert/strict";
import { parseManifest } from "../../src/manifest/parse.ts";
import { splitCommand } from "../../src/manifest/command.ts";
import { parseDuration } from "../../src/manifest/duration.ts";
import { DEFAULTS } from "../../src/manifest/manifest.ts";
import { discoverModules } from "../../src/manifest/discover.ts";
import { makeTestPki } from "../helpers/test_pki.ts";

const FILE = "/srv/modules/cam/module.yaml";

function problems(text: string) {
  const r = parseManifest(text, FILE);
  assert.equal(r.ok, false, "expected problems");
  return r.ok ? [] : r.problems;
}

Deno.test("seed manifest parses unchanged with defaults", () => {
  const r = parseManifest(
    `name: "go2rtc-bridge"
version: "1.0.0"
description: "RTSP to WebRTC conversion"
command: "./go2rtc-module"
dev_command: "go run . --dev"
dependencies: ["device-discovery"]
`,
    FILE,
  );
  assert.ok(r.ok);
  const m = r.manifest;
  assert.equal(m.name, "go2rtc-bridge");
  assert.deepEqual(m.command, ["./go2rtc-module"]);
  assert.deepEqual(m.devCommand, ["go", "run", ".", "--dev"]);
  assert.deepEqual(m.dependencies, ["device-discovery"]);
  assert.equal(m.dir, "/srv/modules/cam");
  assert.equal(m.restart.policy, DEFAULTS.restart.policy);
  assert.equal(m.startTimeoutMs, 30_000);
  assert.equal(m.health.failureThreshold, 3);
});

Deno.test("extensions are parsed with durations", () => {
  const r = parseManifest(
    `name: cam
command: ["deno", "run", "main.ts"]
env: { LEVEL: debug, N: 3 }
restart: { policy: on-failure, backoff: { initial: 250ms, max: 1m }, limit: 2, window: 10s }
health: { interval: 1.5, timeout: 500ms, failure_threshold: 2, start_grace: 0 }
start_timeout: 5s
stop_timeout: 2s
`,
    FILE,
  );
  assert.ok(r.ok);
  assert.deepEqual(r.manifest.command, ["deno", "run", "main.ts"]);
  assert.deepEqual(r.manifest.env, { LEVEL: "debug", N: "3" });
  assert.equal(r.manifest.restart.policy, "on-failure");
  assert.equal(r.manifest.restart.backoffInitialMs, 250);
  assert.equal(r.manifest.restart.backoffMaxMs, 60_000);
  assert.equal(r.manifest.health.intervalMs, 1500);
  assert.equal(r.manifest.startTimeoutMs, 5000);
});

Deno.test("YAML syntax error names file and line", () => {
  const [p] = problems("name: cam\ncommand: [unclosed\nversion: 1\n");
  assert.equal(p.file, FILE);
  assert.ok(p.line >= 2, `line ${p.line}`);
  assert.match(p.message, /YAML syntax error/);
});

Deno.test("missing command is reported", () => {
  const [p] = problems("name: cam\nversion: '1'\n");
  assert.equal(p.field, "command");
  assert.match(p.message, /missing required field "command"/);
});

Deno.test("wrong types, unknown fields and bad enums name field and line", () => {
  const ps = problems(`name: cam
command: 42
restart:
  policy: sometimes
colour: blue
`);
  const byField = Object.fromEntries(ps.map((p) => [p.field, p]));
  assert.equal(byField.command.line, 2);
  assert.match(byField.command.message, /must be string or array/);
  assert.equal(byField["restart.policy"].line, 4);
  assert.match(byField["restart.policy"].message, /always, on-failure, never/);
  assert.equal(byField.colour.line, 5);
  assert.equal(byField.colour.message, "unknown field");
});

Deno.test("bad name and bad duration are rejected", () => {
  const ps = problems("name: Bad Name\ncommand: x\nstop_timeout: soon\n");
  assert.deepEqual(ps.map((p) => p.field).sort(), ["name", "stop_timeout"]);
});

Deno.test("a non-mapping document is rejected", () => {
  const [p] = problems("- just\n- a list\n");
  assert.match(p.message, /mapping/);
});

Deno.test("an unterminated quote in command is a problem", () => {
  const [p] = problems(`name: cam\ncommand: "run 'oops"\n`);
  assert.equal(p.field, "command");
  assert.match(p.message, /unterminated/);
});

Deno.test("splitCommand splits like a shell without expansion", () => {
  assert.deepEqual(splitCommand(`python3 -u "my mod.py" --x='a b' \\$HOME`), [
    "python3",
    "-u",
    "my mod.py",
    "--x=a b",
    "$HOME",
  ]);
  assert.deepEqual(splitCommand(`a "" b`), ["a", "", "b"]);
  assert.throws(() => splitCommand(`a "b`), /unterminated/);
});

Deno.test("parseDuration", () => {
  assert.equal(parseDuration(2), 2000);
  assert.equal(parseDuration("250ms"), 250);
  assert.equal(parseDuration("1.5s"), 1500);
  assert.equal(parseDuration("2m"), 120_000);
  assert.throws(() => parseDuration("2 days"));
});

Deno.test("discovery finds manifests recursively and fails duplicate names naming both files", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (
      const [sub, text] of [
        ["a", "name: one\ncommand: x\n"],
        ["nested/b", "name: one\ncommand: y\n"],
        ["c", "name: two\ncommand: z\n"],
        ["node_modules/d", "name: hidden\ncommand: z\n"],
      ]
    ) {
      await Deno.mkdir(`${dir}/${sub}`, { recursive: true });
      await Deno.writeTextFile(`${dir}/${sub}/module.yaml`, text);
    }
    const found = await discoverModules(dir);
    assert.equal(found.length, 2);
    const one = found.find((d) => !d.ok);
    assert.ok(one && !one.ok);
    assert.equal(one.name, "one");
    assert.match(one.problems[0].message, /a\/module\.yaml and .*nested\/b\/module\.yaml/);
    assert.ok(found.some((d) => d.ok && d.manifest.name === "two"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tls of a remote module: paths resolved, files checked, the name to verify", async () => {
  const pki = await makeTestPki();
  try {
    const file = `${pki.dir}/module.yaml`;
    const parse = (extra: string, address = "camera.lan:50061") =>
      parseManifest(`name: remote\naddress: "${address}"\n${extra}`, file);
    const ok = parse("tls:\n  ca: test-ca.crt\n  cert: client.crt\n  key: client.key\n");
    assert.ok(ok.ok, JSON.stringify(ok));
    assert.deepEqual(ok.manifest.tls, {
      ca: pki.ca,
      cert: pki.clientCert,
      key: pki.clientKey,
      serverName: "camera.lan",
    });
    const named = parse("tls:\n  ca: test-ca.crt\n  server_name: localhost\n", "10.0.0.5:50061");
    assert.ok(named.ok);
    assert.deepEqual(named.manifest.tls, { ca: pki.ca, serverName: "localhost" });

    const problemsOf = (extra: string, address?: string) => {
      const r = address === ""
        ? parseManifest(`name: remote\ncommand: "./run"\n${extra}`, file)
        : parse(extra, address);
      assert.equal(r.ok, false);
      return r.ok ? [] : r.problems.map((p) => `${p.line} ${p.field}: ${p.message}`);
    };
    assert.deepEqual(problemsOf("tls:\n  ca: test-ca.crt\n", ""), [
      "3 tls: applies to remote modules only: add address, or remove tls",
    ]);
    assert.deepEqual(problemsOf("tls:\n  cert: client.crt\n"), [
      "4 tls.key: cert and key go together",
    ]);
    assert.deepEqual(problemsOf("tls:\n  ca: test-ca.crt\n", "10.0.0.5:50061"), [
      "4 tls.server_name: required when address is an IP address (10.0.0.5): the name in the module's certificate",
    ]);
    assert.deepEqual(problemsOf("tls:\n  ca: nope.crt\n  cert: client.key\n  key: client.crt\n"), [
      `4 tls.ca: cannot read ${pki.dir}/nope.crt: no such file`,
      `5 tls.cert: ${pki.clientKey} is not a PEM certificate`,
      `6 tls.key: ${pki.clientCert} is not a PEM private key`,
    ]);
    assert.deepEqual(problemsOf("tls:\n  ca: test-ca.crt\n  verify: false\n"), [
      "5 tls.verify: unknown field",
    ]);
  } finally {
    await Deno.remove(pki.dir, { recursive: true });
  }
});

Deno.test("field lengths are bounded by the schema, naming the field and line", () => {
  const found = problems(
    `name: cam\ncommand: ./cam\ndescription: "${"d".repeat(5000)}"\n` +
      `env: { KEY: "${"v".repeat(20_000)}" }\ndependencies: [${
        Array.from({ length: 100 }, (_, i) => `m${i}`).join(", ")
      }]\n`,
  );
  const byField = Object.fromEntries(found.map((p) => [p.field, p]));
  assert.match(byField.description.message, /must NOT have more than 1024 characters/);
  assert.equal(byField.description.line, 3);
  assert.match(byField["env.KEY"].message, /must NOT have more than 8192 characters/);
  assert.match(byField.dependencies.message, /must NOT have more than 64 items/);
  // Long lists of arguments too.
  const args = problems(
    `name: cam\ncommand: [${Array.from({ length: 300 }, () => '"x"').join(", ")}]\n`,
  );
  assert.equal(args[0].field, "command");
});

Deno.test("a manifest over 256 KiB is that module's problem, never parsed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  try {
    await Deno.mkdir(`${dir}/huge`);
    await Deno.mkdir(`${dir}/fine`);
    // 50 MB, most of it a comment: the file is refused by its size alone.
    const file = await Deno.open(`${dir}/huge/module.yaml`, { write: true, create: true });
    await file.write(new TextEncoder().encode("name: huge\ncommand: ./huge\n"));
    const comment = new TextEncoder().encode(`# ${"x".repeat(1022)}\n`);
    for (let i = 0; i < 50 * 1024; i++) await file.write(comment);
    file.close();
    await Deno.writeTextFile(`${dir}/fine/module.yaml`, "name: fine\ncommand: ./fine\n");
    const found = await discoverModules(dir);
    const huge = found.find((d) => !d.ok);
    assert.ok(huge && !huge.ok);
    assert.equal(huge.name, "huge");
    const size = (await Deno.stat(`${dir}/huge/module.yaml`)).size;
    assert.ok(size > 50_000_000);
    assert.equal(
      huge.problems[0].message,
      `the file is ${size} bytes, more than the limit of 262144 bytes (256 KiB)`,
    );
    assert.ok(found.some((d) => d.ok && d.manifest.name === "fine"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
