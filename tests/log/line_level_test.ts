/**
 * The module log convention: a line's level comes from a leading level word, a JSON `level`
 * field or an sd-daemon `<N>` prefix, never from the stream; checked on the parser and end to
 * end (a real module writes lines on both streams; the logs RPC, the orchestrator's own log
 * and the module's last stderr lines carry the levels).
 */
import assert from "node:assert/strict";
import { Severity } from "@callassistant/protocol";
import { lineLevel } from "../../src/log/line_level.ts";
import { ROOT, startOrchestrator, waitFor } from "../helpers/test_orchestrator.ts";

const CASES: [string, Severity][] = [
  ["DEBUG connecting", Severity.DEBUG],
  ["trace x", Severity.DEBUG],
  ["INFO listening on 127.0.0.1:5000", Severity.INFO],
  ["info lower case", Severity.INFO],
  ["WARN slow answer", Severity.WARNING],
  ["Warning: deprecated", Severity.WARNING],
  ["WARNING:root:Python's default format", Severity.WARNING],
  ["ERROR cannot open /dev/video0", Severity.ERROR],
  ["error: GRPC_PORT is not set", Severity.ERROR],
  ["CRITICAL disk gone", Severity.CRITICAL],
  ["FATAL out of memory", Severity.CRITICAL],
  ["ERROR", Severity.ERROR],
  ['{"level":"warn","msg":"json"}', Severity.WARNING],
  ['{"level":"ERROR","msg":"json upper"}', Severity.ERROR],
  ['{"level":50,"msg":"pino error"}', Severity.ERROR],
  ['{"level":20,"msg":"pino debug"}', Severity.DEBUG],
  ['{"level":"nonsense"}', Severity.INFO],
  ['{"msg":"no level"}', Severity.INFO],
  ["{not json", Severity.INFO],
  ["<3>sd-daemon error", Severity.ERROR],
  ["<4>sd-daemon warning", Severity.WARNING],
  ["<5>notice", Severity.INFO],
  ["<6>info", Severity.INFO],
  ["<7>debug", Severity.DEBUG],
  ["<0>emerg", Severity.CRITICAL],
  ["<2>crit", Severity.CRITICAL],
  ["<8>not a priority", Severity.INFO],
  // Untagged lines are INFO whatever they say later, and words must stand alone.
  ["listening on 127.0.0.1:5000", Severity.INFO],
  ["Errors so far: 0", Severity.INFO],
  ["debugging is off", Severity.INFO],
  ["an ERROR in the middle", Severity.INFO],
  ["  ERROR indented", Severity.INFO],
  ["", Severity.INFO],
  ["Traceback (most recent call last):", Severity.INFO],
];

Deno.test("lineLevel reads level words, JSON levels and <N> prefixes; the rest is INFO", () => {
  for (const [line, want] of CASES) {
    assert.equal(Severity[lineLevel(line)], Severity[want], JSON.stringify(line));
  }
});

type Entry = { stream: string; line: string; level: string };

Deno.test("a module's lines carry their level in the logs RPC and the orchestrator log", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  const lines = [
    ["stderr", "INFO normal output on stderr"],
    ["stdout", "ERROR a failure on stdout"],
    ["stderr", "WARN a warning"],
    ["stderr", "DEBUG detail"],
    ["stdout", '{"level":"critical","msg":"json"}'],
    ["stderr", "<4>sd-daemon warning"],
    ["stderr", "untagged on stderr"],
  ];
  await Deno.mkdir(`${dir}/levels`);
  // JSON is YAML: the manifest is written as JSON so the lines need no YAML quoting.
  await Deno.writeTextFile(
    `${dir}/levels/module.yaml`,
    JSON.stringify({
      name: "levels",
      version: "0.1.0",
      command: ["deno", "run", "--allow-all", `${ROOT}tests/fixtures/log-flood/main.ts`],
      env: { FLOOD: "levels", LEVEL_LINES: JSON.stringify(lines) },
    }),
  );
  const orch = await startOrchestrator({ modules: dir, args: ["--log-level", "debug"] });
  try {
    const entries = await waitFor(async () => {
      const res = await fetch(`${orch.url}/v1/modules/levels/logs?tail=100`);
      const got = (await res.text()).trim().split("\n").filter(Boolean)
        .map((l) => JSON.parse(l).entry as Entry);
      return got.some((e) => e.line === "levels done") ? got : undefined;
    });
    const levelOf = (line: string) => entries.find((e) => e.line === line)?.level;
    assert.equal(levelOf("INFO normal output on stderr"), "SEVERITY_INFO");
    assert.equal(levelOf("ERROR a failure on stdout"), "SEVERITY_ERROR");
    assert.equal(levelOf("WARN a warning"), "SEVERITY_WARNING");
    assert.equal(levelOf("DEBUG detail"), "SEVERITY_DEBUG");
    assert.equal(levelOf('{"level":"critical","msg":"json"}'), "SEVERITY_CRITICAL");
    assert.equal(levelOf("<4>sd-daemon warning"), "SEVERITY_WARNING");
    assert.equal(levelOf("untagged on stderr"), "SEVERITY_INFO");
    assert.equal(levelOf("levels done"), "SEVERITY_INFO");

    // The orchestrator's own log echoes each line at its level, whatever the stream.
    const echoed = (msg: string) =>
      orch.waitForLog((l) => l.module === "levels" && l.msg === msg, 10_000);
    assert.equal((await echoed("INFO normal output on stderr")).level, "info");
    assert.equal((await echoed("ERROR a failure on stdout")).level, "error");
    assert.equal((await echoed("WARN a warning")).level, "warn");
    assert.equal((await echoed("DEBUG detail")).level, "debug");
    assert.equal((await echoed("untagged on stderr")).level, "info");
    assert.equal((await echoed("untagged on stderr")).stream, "stderr");
  } finally {
    await orch.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
