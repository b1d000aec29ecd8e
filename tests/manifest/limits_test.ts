import assert from "node:assert/strict";
import { parseManifest } from "../../src/manifest/parse.ts";
import { parseMemorySize } from "../../src/manifest/memory_size.ts";

const FILE = "/srv/modules/cam/module.yaml";

function problemsOf(text: string) {
  const r = parseManifest(text, FILE);
  assert.equal(r.ok, false, "expected problems");
  return r.ok ? [] : r.problems;
}

Deno.test("limits: memory and for are parsed to bytes and ms", () => {
  const r = parseManifest(
    `name: cam\ncommand: ./run\nlimits: { memory: 300MiB, for: 30s }\n`,
    FILE,
  );
  assert.ok(r.ok);
  assert.deepEqual(r.manifest.limits, { memoryBytes: 300 * 1024 * 1024, forMs: 30_000 });
});

Deno.test("limits: for defaults to 30 s; bytes as a number", () => {
  const r = parseManifest(`name: cam\ncommand: ./run\nlimits:\n  memory: 1048576\n`, FILE);
  assert.ok(r.ok);
  assert.deepEqual(r.manifest.limits, { memoryBytes: 1048576, forMs: 30_000 });
  const none = parseManifest(`name: cam\ncommand: ./run\n`, FILE);
  assert.ok(none.ok);
  assert.equal(none.manifest.limits, undefined);
});

Deno.test("memory sizes: units", () => {
  assert.equal(parseMemorySize("1.5GiB"), 1.5 * 1024 ** 3);
  assert.equal(parseMemorySize("512M"), 512 * 1024 ** 2);
  assert.equal(parseMemorySize("64 KiB"), 64 * 1024);
  assert.equal(parseMemorySize("2GB"), 2e9);
  assert.throws(() => parseMemorySize("0MiB"), /must be more than 0/);
  assert.throws(() => parseMemorySize(1.5), /whole, positive/);
});

Deno.test("limits: a bad memory size names the field, the line and the units", () => {
  const [p, ...rest] = problemsOf(
    `name: cam\ncommand: ./run\nlimits:\n  memory: lots\n  for: 10s\n`,
  );
  assert.equal(rest.length, 0, JSON.stringify(rest));
  assert.equal(p.field, "limits.memory");
  assert.equal(p.line, 4);
  assert.match(p.message, /invalid memory size "lots".*MiB/);
});

Deno.test("limits: bad duration, missing memory, unknown field, remote module", () => {
  const badFor = problemsOf(`name: cam\ncommand: ./run\nlimits: { memory: 1GiB, for: soon }\n`);
  assert.ok(badFor.some((p) => p.field === "limits.for"), JSON.stringify(badFor));
  const missing = problemsOf(`name: cam\ncommand: ./run\nlimits: { for: 10s }\n`);
  assert.match(missing[0].message, /missing required field "memory"/);
  const unknown = problemsOf(`name: cam\ncommand: ./run\nlimits: { memory: 1GiB, cpu: 2 }\n`);
  assert.equal(unknown[0].field, "limits.cpu");
  assert.equal(unknown[0].message, "unknown field");
  const remote = problemsOf(`name: cam\naddress: "10.0.0.2:5000"\nlimits: { memory: 1GiB }\n`);
  assert.equal(remote[0].field, "limits");
  assert.match(remote[0].message, /not with address/);
});
