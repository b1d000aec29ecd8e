/**
 * `/metrics` of the real orchestrator against Prometheus's own linter (`promtool check
 * metrics`, Debian's `prometheus` package, installed by `setup.ts --tests`) and the
 * conventions it cannot see: a `_total` counter of automatic restarts that a start by hand
 * never takes back, start times instead of uptimes, every flow state present, the build
 * info, the standard `code` label, and only standard names under `process_`. Also the run
 * numbers of the restart history, which a start by hand does not reset either.
 */
import assert from "node:assert/strict";
import { fixtureCopy, getJson, startOrchestrator, waitFor } from "../helpers/test_orchestrator.ts";
import { addReporter } from "../event_service/event_helpers.ts";

/** The process metrics of the Prometheus client library guidelines. */
const STANDARD_PROCESS = new Set([
  "process_cpu_seconds_total",
  "process_open_fds",
  "process_max_fds",
  "process_virtual_memory_bytes",
  "process_virtual_memory_max_bytes",
  "process_resident_memory_bytes",
  "process_heap_bytes",
  "process_start_time_seconds",
  "process_threads",
]);

/** Runs `promtool check metrics` on `text`; returns its exit code and output. */
export async function promtool(text: string): Promise<{ code: number; output: string }> {
  const child = new Deno.Command("promtool", {
    args: ["check", "metrics"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const out = await child.output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, output: (decode(out.stdout) + decode(out.stderr)).trim() };
}

/** The value of the sample `name{labels}` (labels in any order), or undefined. */
function value(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = new Map(
      [...(m[3] ?? "").matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) return Number(m[4]);
  }
  return undefined;
}

async function scrape(url: string): Promise<string> {
  const res = await fetch(`${url}/metrics`);
  assert.equal(res.status, 200);
  return await res.text();
}

type Run = { restart?: number; pid?: number };

Deno.test("metrics conventions: promtool clean, restarts_total and run numbers survive a start by hand", async () => {
  const dir = await fixtureCopy("exits-at-once");
  await addReporter(dir);
  const orch = await startOrchestrator({ modules: dir });
  try {
    const module = async (name: string) =>
      (await getJson(`${orch.url}/v1/modules/${name}`)).body.module as Record<string, unknown>;
    const parked = async () => {
      const m = await module("exits-at-once");
      return m.state === "MODULE_STATE_FAILED" ? m : undefined;
    };
    // The crash loop: the first start and two automatic restarts, then FAILED.
    const first = await waitFor(parked, 20_000, "exits-at-once parked in FAILED");
    assert.equal(first.restarts, 2);
    await waitFor(async () => (await module("reporter")).state === "MODULE_STATE_READY");
    await (await fetch(`${orch.url}/v1/modules/reporter`)).body?.cancel();

    const text = await scrape(orch.url);
    const lint = await promtool(text);
    assert.equal(lint.code, 0, `promtool check metrics:\n${lint.output}`);
    assert.equal(lint.output, "", "promtool has no complaints");

    assert.equal(
      value(text, "callassistant_module_restarts_total", { module: "exits-at-once" }),
      2,
    );
    assert.match(text, /^# TYPE callassistant_module_restarts_total counter$/m);
    assert.doesNotMatch(text, /^callassistant_module_restarts\{/m);
    assert.doesNotMatch(text, /uptime/);
    const started = value(text, "callassistant_module_start_time_seconds", { module: "reporter" });
    assert.ok(started && Math.abs(started - Date.now() / 1000) < 120, `start time ${started}`);
    assert.equal(
      value(text, "callassistant_module_start_time_seconds", { module: "exits-at-once" }),
      undefined,
      "no start time while it does not run",
    );
    for (const state of ["CREATING", "STARTING", "ACTIVE", "DEGRADED", "STOPPED", "FAILED"]) {
      assert.equal(value(text, "callassistant_flows", { state }), 0, `flows{state="${state}"}`);
    }
    assert.equal(
      value(text, "callassistant_build_info", {
        version: JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)))
          .version,
        deno: Deno.version.deno,
      }),
      1,
    );
    assert.ok(
      value(text, "callassistant_http_request_duration_seconds_count", {
        method: "GET",
        route: "/v1/modules/{name}",
        code: "200",
      })! >= 1,
    );
    assert.doesNotMatch(text, /status="/);
    const processNames = new Set(
      [...text.matchAll(/^# TYPE (process_\w+) /gm)].map((m) => m[1]),
    );
    assert.ok(processNames.has("process_cpu_seconds_total"));
    assert.ok(processNames.has("process_open_fds"));
    for (const name of processNames) assert.ok(STANDARD_PROCESS.has(name), `${name} is standard`);

    // A start by hand: the module's `restarts` starts over, the counter and runs do not.
    const res = await fetch(`${orch.url}/v1/modules/exits-at-once:start`, { method: "POST" });
    assert.equal(res.status, 200, await res.text());
    const second = await waitFor(
      async () => {
        const m = await parked();
        return m && (m.history as Run[]).length === 6 ? m : undefined;
      },
      20_000,
      "the second crash loop parked",
    );
    assert.equal(second.restarts, 2);
    const runs = (second.history as Run[]).map((r) => r.restart ?? 0);
    assert.deepEqual(runs, [0, 1, 2, 3, 4, 5], "runs are numbered over the module's life");
    const after = await scrape(orch.url);
    assert.equal(
      value(after, "callassistant_module_restarts_total", { module: "exits-at-once" }),
      4,
      "the counter went on from 2",
    );
    assert.equal((await promtool(after)).code, 0);

    // The log lines carry the same run numbers.
    const logs = await (await fetch(`${orch.url}/v1/modules/exits-at-once/logs?tail=50`)).text();
    const logRuns = new Set(logs.trim().split("\n").map((l) => JSON.parse(l).entry.restart ?? 0));
    assert.deepEqual([...logRuns].sort(), [0, 1, 2, 3, 4, 5]);
  } finally {
    await orch.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("metrics conventions: promtool itself fails on a broken exposition", async () => {
  // Guards the guard: the tool above would not pass a gauge named like a counter.
  const bad = "# HELP x_total Bad.\n# TYPE x_total gauge\nx_total 1\n";
  const lint = await promtool(bad);
  assert.notEqual(lint.output, "", "promtool complains");
});
