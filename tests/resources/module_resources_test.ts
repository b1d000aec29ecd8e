/**
 * Per-module resources with real modules and real /proc: the CPU of a module whose child
 * spins rises, the RSS of a module whose child grows rises, both are in the API (gateway
 * JSON, replicas too) and in /metrics; a module that stays over `limits.memory` for
 * `limits.for` is restarted with a `module.memory_limit` event naming the figure.
 * Samples every 300 ms here (CA_RESOURCE_INTERVAL_MS).
 */
import assert from "node:assert/strict";
import {
  addModule,
  listModules,
  type ModuleJson,
  ROOT,
  startOrchestrator,
  waitFor,
  waitForState,
} from "../helpers/test_orchestrator.ts";

const HOG = `${ROOT}tests/fixtures/resource_hog.ts`;

function addHog(dir: string, name: string, hog: string, extra = ""): Promise<string> {
  return addModule(
    dir,
    name,
    `command: ["deno", "run", "--allow-all", "${HOG}"]\nenv: { HOG: "${hog}" }\n${extra}`,
  );
}

interface Resources {
  cpuSeconds?: number;
  cpuCores?: number;
  rssBytes?: string;
  processes?: number;
  sampledAt?: string;
  memoryLimitBytes?: string;
  overLimitSince?: string;
}

const res = (m: ModuleJson) => (m.resources ?? {}) as Resources;

Deno.test("resources: CPU of a busy tree and RSS of a growing one rise, in the API and /metrics", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  await addHog(dir, "busy", "busy");
  await addHog(dir, "grower", "grow:8:120");
  await addHog(dir, "idle", "idle", "replicas: 2\n");
  const orch = await startOrchestrator({
    modules: dir,
    env: { CA_RESOURCE_INTERVAL_MS: "300" },
  });
  try {
    await Promise.all(["busy", "grower", "idle"].map((n) => waitForState(orch.url, n, "READY")));
    const first = await waitFor(
      async () => {
        const m = await listModules(orch.url);
        return Object.values(m).every((x) => res(x).sampledAt) ? m : undefined;
      },
      10_000,
      "a first sample of every module",
    );
    // The busy module counts its spinning child: more than its own one process.
    assert.ok(res(first.busy).processes! >= 2, JSON.stringify(res(first.busy)));
    assert.ok(Number(res(first.idle).rssBytes) > 10 * 2 ** 20, "a Deno module holds > 10 MiB");
    const replica = (first.idle.replicas as { resources?: Resources }[])[0];
    assert.ok(Number(replica.resources?.rssBytes) > 10 * 2 ** 20, "the replica is sampled too");

    // CPU: the spinning child adds up to about a core (shared machine: at least 0.3 s in 3 s).
    const busyCpu0 = res(first.busy).cpuSeconds ?? 0;
    const later = await waitFor(
      async () => {
        const m = await listModules(orch.url);
        return (res(m.busy).cpuSeconds ?? 0) - busyCpu0 >= 0.3 ? m : undefined;
      },
      15_000,
      "busy's CPU seconds rising",
    );
    assert.ok(res(later.busy).cpuCores! > 0.05, `cpuCores ${res(later.busy).cpuCores}`);
    assert.ok(
      (res(later.idle).cpuCores ?? 0) < res(later.busy).cpuCores!,
      "the idle module uses less CPU than the busy one",
    );

    // RSS: the grower adds 8 MiB a second.
    const rss0 = Number(res(first.grower).rssBytes);
    await waitFor(
      async () => {
        const m = await listModules(orch.url);
        return Number(res(m.grower).rssBytes) - rss0 >= 24 * 2 ** 20 ? m : undefined;
      },
      15_000,
      "grower's RSS rising by 24 MiB",
    );

    // /metrics: both families, per module and instance.
    const text = await (await fetch(`${orch.url}/metrics`)).text();
    const cpu = /^callassistant_module_cpu_seconds_total\{module="busy",instance="0"\} (\S+)$/m
      .exec(text);
    assert.ok(cpu && Number(cpu[1]) > 0, "cpu_seconds_total of busy");
    assert.match(text, /# TYPE callassistant_module_cpu_seconds_total counter/);
    const rss = /^callassistant_module_resident_memory_bytes\{module="idle",instance="1"\} (\S+)$/m
      .exec(text);
    assert.ok(rss && Number(rss[1]) > 10 * 2 ** 20, "resident bytes of idle's replica");
  } finally {
    await orch.stop();
  }
});

Deno.test("resources: a module over limits.memory for limits.for is restarted with an event", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  // A Deno module is about 60-90 MiB; its child grows 32 MiB a second up to 320 MiB.
  await addHog(dir, "leaky", "grow:32:320", "limits: { memory: 200MiB, for: 1.5s }\n");
  const orch = await startOrchestrator({
    modules: dir,
    env: { CA_RESOURCE_INTERVAL_MS: "300" },
  });
  try {
    const ready = await waitForState(orch.url, "leaky", "READY");
    const pid0 = ready.pid;
    // Over the limit: the window shows before the restart.
    const over = await waitFor(
      async () => {
        const m = (await listModules(orch.url)).leaky;
        return res(m).overLimitSince ? m : undefined;
      },
      20_000,
      "leaky over its limit",
    );
    assert.equal(res(over).memoryLimitBytes, String(200 * 2 ** 20));
    const line = await orch.waitForLog(
      (l) => l.msg === "module over its memory limit, restarting",
      15_000,
    );
    assert.ok(Number(line.rss_bytes) > 200 * 2 ** 20);
    const stream = await fetch(`${orch.url}/v1/events?afterId=0&types=module.memory_limit`, {
      headers: { accept: "application/x-ndjson" },
    });
    const reader = stream.body!.pipeThrough(new TextDecoderStream()).getReader();
    const { value } = await reader.read();
    await reader.cancel();
    const event = JSON.parse(value!.split("\n")[0]).event;
    assert.equal(event.severity, "SEVERITY_WARNING");
    assert.equal(event.data.limit_bytes, 200 * 2 ** 20);
    assert.ok(event.data.rss_bytes > 200 * 2 ** 20);
    assert.match(
      event.message,
      /^leaky: resident memory [\d.]+ MiB over the limit of 200\.0 MiB for [\d.]+ s \(limits\.for 1\.5 s\): restarting$/,
    );
    // A new process, and the restart is counted.
    const back = await waitForState(orch.url, "leaky", "READY", 30_000, (m) => m.pid !== pid0);
    assert.ok(back.restarts >= 1);
    assert.match(
      (back.history as { reason?: string }[]).find((r) => r.reason)?.reason ?? "",
      /over its memory limit/,
    );
  } finally {
    await orch.stop();
  }
});
