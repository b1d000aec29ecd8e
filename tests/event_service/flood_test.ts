/**
 * Flood control with the real orchestrator: a module reporting far faster than its rate
 * gets RESOURCE_EXHAUSTED for the excess, an event says so, the orchestrator keeps only
 * what it accepted, and its memory stays bounded.
 */
import assert from "node:assert/strict";
import { startOrchestrator, waitFor } from "../helpers/test_orchestrator.ts";
import { addReporter, drive, moduleInfo } from "./event_helpers.ts";

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return Number(line?.split(" ")[1]);
}

Deno.test("events: a flooding module is throttled with RESOURCE_EXHAUSTED while memory stays bounded", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  await addReporter(dir);
  const orch = await startOrchestrator({ modules: dir });
  try {
    await waitFor(async () =>
      (await moduleInfo(orch.url, "reporter")).state === "MODULE_STATE_READY"
    );
    const rssBefore = await metric(orch.url, "process_resident_memory_bytes");
    const started = performance.now();
    let accepted = 0;
    let refused = 0;
    for (let round = 0; round < 4; round++) {
      const r = await drive(orch.url, "reporter", {
        action: "report",
        type: "fixture.flood",
        count: 2500,
        wait: true,
      });
      accepted += (r.ids as string[]).length;
      refused += r.refused as number;
    }
    const seconds = (performance.now() - started) / 1000;
    assert.ok(refused > 0, `some of 10,000 events were refused (accepted ${accepted})`);
    // The default rate: 100/s with bursts of 200.
    assert.ok(
      accepted <= 200 + 100 * seconds + 5,
      `accepted ${accepted} in ${seconds.toFixed(1)} s is within the rate`,
    );
    // The module was told why (its SDK logs the first refusal), and an event says so.
    await orch.waitForLog((l) =>
      l.module === "reporter" && /RESOURCE_EXHAUSTED: too many reports/.test(String(l.msg))
    );
    const notice = await fetch(`${orch.url}/v1/events?afterId=1&types=module.events_throttled`, {
      headers: { accept: "application/x-ndjson" },
    });
    const reader = notice.body!.pipeThrough(new TextDecoderStream()).getReader();
    const { value } = await reader.read();
    await reader.cancel();
    const event = JSON.parse(value!.split("\n")[0]).event;
    assert.equal(event.module, "reporter");
    assert.equal(event.severity, "SEVERITY_WARNING");
    assert.match(event.message, /reporter reports faster than 100\/s \(bursts of 200\)/);
    // Refused events were not kept or logged.
    const logged = orch.logs.filter((l) => l.msg === "module event" && l.type === "fixture.flood");
    assert.equal(logged.length, accepted);
    assert.ok(
      (await metric(orch.url, "callassistant_event_history_events")) <= 10_000,
      "the history is bounded",
    );
    const throttled = (await (await fetch(`${orch.url}/metrics`)).text()).split("\n")
      .find((l) => l.startsWith('callassistant_events_throttled_total{module="reporter"'));
    assert.equal(Number(throttled?.split(" ")[1]), refused);
    const rssAfter = await metric(orch.url, "process_resident_memory_bytes");
    assert.ok(
      rssAfter - rssBefore < 96 * 1024 * 1024,
      `RSS grew by ${((rssAfter - rssBefore) / 1048576).toFixed(1)} MiB`,
    );
    // The orchestrator still answers, and the module recovers once it slows down.
    const later = await waitFor(async () => {
      const r = await drive(orch.url, "reporter", {
        action: "report",
        type: "fixture.calm",
        wait: true,
      });
      return (r.ids as string[]).length === 1 ? r : undefined;
    });
    assert.equal(later.refused, 0);
  } finally {
    await orch.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("events: --event-rate raises the rate; log lines stay at 100/s and say how many were left out", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  await addReporter(dir);
  const orch = await startOrchestrator({ modules: dir, args: ["--event-rate", "20000/20000"] });
  try {
    await waitFor(async () =>
      (await moduleInfo(orch.url, "reporter")).state === "MODULE_STATE_READY"
    );
    const started = performance.now();
    let accepted = 0;
    for (let round = 0; round < 2; round++) {
      const r = await drive(orch.url, "reporter", {
        action: "report",
        type: "fixture.flood",
        count: 2500,
        wait: true,
      });
      assert.equal(r.refused, 0, "within the raised rate nothing is refused");
      accepted += (r.ids as string[]).length;
    }
    const seconds = (performance.now() - started) / 1000;
    assert.equal(accepted, 5000);
    // One more event, a second later: its log line is preceded by the count left out.
    await new Promise((r) => setTimeout(r, 1000));
    await drive(orch.url, "reporter", { action: "report", type: "fixture.calm", wait: true });
    // The calm event's own line comes after the last summary (a loaded machine may have
    // written an earlier one mid-flood): wait for it, then count every summary.
    await orch.waitForLog((l) => l.msg === "module event" && l.type === "fixture.calm");
    const summary = await orch.waitForLog((l) => l.msg === "module events not logged");
    assert.equal(summary.module, "reporter");
    assert.match(String(summary.reason), /more than 100 events\/s \(bursts of 200\)/);
    const logged = orch.logs.filter((l) => l.msg === "module event" && l.type === "fixture.flood");
    assert.ok(
      logged.length <= 200 + 100 * seconds + 5,
      `logged ${logged.length} of ${accepted} in ${seconds.toFixed(1)} s`,
    );
    const leftOut = orch.logs.filter((l) => l.msg === "module events not logged")
      .reduce((n, l) => n + Number(l.count), 0);
    assert.equal(logged.length + leftOut, accepted, "every accepted event is logged or counted");
    // Every accepted event was still counted and published.
    const counted = (await (await fetch(`${orch.url}/metrics`)).text()).split("\n")
      .find((l) =>
        l.startsWith("callassistant_events_total{") && l.includes('module="reporter"') &&
        l.includes('type="fixture.flood"')
      );
    assert.equal(Number(counted?.split(" ")[1]), accepted, String(counted));
  } finally {
    await orch.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
