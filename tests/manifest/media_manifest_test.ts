/** The manifest's `media` section: the stall timeout of the connections a module measures. */
import assert from "node:assert/strict";
import { parseManifest } from "../../src/manifest/parse.ts";

const FILE = "/srv/modules/conv/module.yaml";

Deno.test("media.stall_timeout: parsed as a duration; unset is the default", () => {
  const r = parseManifest(`name: conv\ncommand: x\nmedia: { stall_timeout: 8s }\n`, FILE);
  assert.ok(r.ok);
  assert.equal(r.manifest.media?.stallTimeoutMs, 8000);
  const plain = parseManifest(`name: conv\ncommand: x\n`, FILE);
  assert.ok(plain.ok);
  assert.equal(plain.manifest.media?.stallTimeoutMs, undefined);
});

Deno.test("media.stall_timeout: out of range, badly written or unknown fields name the field and line", () => {
  for (
    const [text, field, message] of [
      ["media:\n  stall_timeout: 500ms\n", "media.stall_timeout", /from 1s to 10m \(got 0.5s\)/],
      ["media:\n  stall_timeout: 2h\n", "media.stall_timeout", /from 1s to 10m \(got 7200s\)/],
      ["media:\n  stall_timeout: soon\n", "media.stall_timeout", /must be/],
      ["media:\n  stall_timout: 5s\n", "media.stall_timout", /unknown field/],
    ] as const
  ) {
    const r = parseManifest(`name: conv\ncommand: x\n${text}`, FILE);
    assert.equal(r.ok, false, text);
    if (r.ok) continue;
    const p = r.problems.find((p) => p.field === field);
    assert.ok(p, `${text}: ${JSON.stringify(r.problems)}`);
    assert.match(p.message, message);
    assert.equal(p.line, 4, `${text}: the line of the field`);
  }
});
