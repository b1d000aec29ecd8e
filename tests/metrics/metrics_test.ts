/**
 * `GET /metrics` of the real orchestrator: valid Prometheus text (a third-party parser
 * and a strict line check), with module states, restarts, start times, module RPC latency,
 * gateway request latency, events per module and type, flows, module-reported samples
 * and process memory.
 */
import assert from "node:assert/strict";
import parsePrometheus from "parse-prometheus-text-format";
import { startOrchestrator, waitFor } from "../helpers/test_orchestrator.ts";
import { addReporter, drive, moduleInfo } from "../event_service/event_helpers.ts";

type Family = {
  name: string;
  help: string;
  type: string;
  metrics: { value?: string; labels?: Record<string, string>; buckets?: Record<string, string> }[];
};

const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
const LABEL_VALUE = '"(?:[^"\\\\\\n]|\\\\[\\\\"n])*"';
const SAMPLE = new RegExp(
  `^${NAME}(\\{[a-zA-Z_][a-zA-Z0-9_]*=${LABEL_VALUE}(,[a-zA-Z_][a-zA-Z0-9_]*=${LABEL_VALUE})*\\})? ` +
    `(-?[0-9.]+(e[-+]?[0-9]+)?|NaN|[+-]Inf)$`,
);

/** Checks every line against the text format 0.0.4; returns the problems. */
function strictProblems(text: string): string[] {
  const problems: string[] = [];
  const typed = new Set<string>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    if (line.startsWith("# HELP ")) continue;
    if (line.startsWith("# TYPE ")) {
      const [, , name, type] = line.split(" ");
      if (!["counter", "gauge", "histogram", "summary", "untyped"].includes(type)) {
        problems.push(`bad type: ${line}`);
      }
      if (typed.has(name)) problems.push(`family typed twice: ${name}`);
      typed.add(name);
      continue;
    }
    if (line.startsWith("#")) continue;
    if (!SAMPLE.test(line)) problems.push(`bad sample: ${line}`);
  }
  return problems;
}

async function scrape(url: string): Promise<{ text: string; families: Map<string, Family> }> {
  const res = await fetch(`${url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  const families = new Map<string, Family>(
    (parsePrometheus(text) as Family[]).map((f) => [f.name, f]),
  );
  return { text, families };
}

function sample(f: Family | undefined, labels: Record<string, string>) {
  return f?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
}

Deno.test("metrics: /metrics parses as Prometheus text and covers modules, RPCs, HTTP, events and memory", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  await addReporter(dir);
  const orch = await startOrchestrator({ modules: dir });
  try {
    await waitFor(async () =>
      (await moduleInfo(orch.url, "reporter")).state === "MODULE_STATE_READY"
    );
    await drive(orch.url, "reporter", {
      action: "report",
      type: "fixture.metric",
      count: 3,
      wait: true,
    });
    await (await fetch(`${orch.url}/v1/modules/reporter`)).body?.cancel();
    await (await fetch(`${orch.url}/v1/nope`)).body?.cancel();
    // The fixture reports its samples at start; wait until they are in.
    const { text, families } = await waitFor(async () => {
      const s = await scrape(orch.url);
      return s.families.has("module_fixture_frames_total") ? s : undefined;
    });

    assert.deepEqual(strictProblems(text), []);
    for (const f of families.values()) assert.ok(f.help, `${f.name} has help`);

    const state = families.get("callassistant_module_state");
    assert.equal(state?.type, "GAUGE");
    assert.equal(sample(state, { module: "reporter", state: "READY" })?.value, "1");
    assert.equal(sample(state, { module: "reporter", state: "FAILED" })?.value, "0");
    assert.equal(
      sample(families.get("callassistant_module_up"), { module: "reporter" })?.value,
      "1",
    );
    assert.equal(
      sample(families.get("callassistant_module_restarts_total"), { module: "reporter" })?.value,
      "0",
    );
    const started = sample(families.get("callassistant_module_start_time_seconds"), {
      module: "reporter",
    });
    assert.ok(Number(started?.value) > 1.7e9);
    assert.equal(
      sample(families.get("callassistant_module_event_channel_up"), { module: "reporter" })?.value,
      "1",
    );

    // (The parser keeps no labels of histogram series: those are read from the text.)
    assert.equal(families.get("callassistant_module_rpc_duration_seconds")?.type, "HISTOGRAM");
    const lines = text.split("\n");
    assert.ok(lines.includes(
      'callassistant_module_rpc_duration_seconds_count{module="reporter",method="RegisterModule",code="OK"} 1',
    ));
    assert.ok(lines.some((l) =>
      l.startsWith(
        'callassistant_module_rpc_duration_seconds_bucket{le="+Inf",module="reporter",method="HealthCheck",code="OK"} ',
      )
    ));
    assert.equal(families.get("callassistant_http_request_duration_seconds")?.type, "HISTOGRAM");
    assert.ok(lines.some((l) =>
      l.startsWith(
        'callassistant_http_request_duration_seconds_count{method="GET",route="/v1/modules/{name}",code="200"} ',
      )
    ));
    assert.ok(lines.some((l) =>
      l.startsWith(
        'callassistant_http_request_duration_seconds_count{method="GET",route="unmatched",code="404"} ',
      )
    ));

    const events = families.get("callassistant_events_total");
    assert.equal(events?.type, "COUNTER");
    assert.equal(
      sample(events, { source: "module", module: "reporter", type: "fixture.metric" })?.value,
      "3",
    );
    assert.ok(
      Number(
        sample(events, {
          source: "orchestrator",
          module: "reporter",
          type: "module.state_changed",
        })?.value,
      ) >= 2,
    );
    assert.ok(families.has("callassistant_flows"));
    assert.ok(Number(families.get("process_resident_memory_bytes")?.metrics[0].value) > 1e6);
    assert.ok(Number(families.get("deno_memory_heap_used_bytes")?.metrics[0].value) > 1e5);

    // Module-reported samples, with the module's labels (escaped) and its kind and help.
    const frames = families.get("module_fixture_frames_total");
    assert.equal(frames?.type, "COUNTER");
    assert.equal(frames?.help, "Frames sent.");
    assert.deepEqual(frames?.metrics[0].labels, { module: "reporter", entity_id: 'cam "1"' });
    assert.equal(frames?.metrics[0].value, "42");
    assert.equal(families.get("module_fixture_temperature_celsius")?.type, "GAUGE");

    // A stopped module's own samples go; its state stays.
    await (await fetch(`${orch.url}/v1/modules/reporter:stop`, { method: "POST" })).body?.cancel();
    const after = await scrape(orch.url);
    assert.equal(after.families.has("module_fixture_frames_total"), false);
    assert.equal(
      sample(after.families.get("callassistant_module_state"), {
        module: "reporter",
        state: "STOPPED",
      })
        ?.value,
      "1",
    );
    assert.deepEqual(strictProblems(after.text), []);
  } finally {
    await orch.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
