/**
 * The module's Connect stream with the real orchestrator: when acknowledgements are lost
 * and the connection breaks, the SDK reconnects and resends what was not acknowledged;
 * the orchestrator recognises the repeated sequence numbers, so every event is recorded
 * exactly once and every report still gets its event id.
 */
import assert from "node:assert/strict";
import { startOrchestrator, waitFor } from "../helpers/test_orchestrator.ts";
import { addReporter, drive, moduleInfo } from "./event_helpers.ts";

Deno.test("events: after lost acks and a broken stream, unacknowledged reports are resent once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  await addReporter(dir, "reporter", { PROXY: "1" });
  const orch = await startOrchestrator({ modules: dir });
  const moduleEvents = (type: string) =>
    orch.logs.filter((l) => l.msg === "module event" && l.type === type);
  try {
    await waitFor(async () =>
      (await moduleInfo(orch.url, "reporter")).state === "MODULE_STATE_READY"
    );
    await orch.waitForLog((l) => l.msg === "module event" && l.type === "fixture.started");

    // Acks stop reaching the module; it reports 5 events, which the orchestrator records.
    await drive(orch.url, "reporter", { action: "hold" });
    await drive(orch.url, "reporter", { action: "report", type: "fixture.held", count: 5 });
    await waitFor(() => moduleEvents("fixture.held").length === 5, 20_000, "5 held events");

    // The connection breaks: the SDK reconnects and resends the 5 (and the heartbeats).
    await drive(orch.url, "reporter", { action: "cut" });
    const results = await drive(orch.url, "reporter", { action: "results" });
    await orch.waitForLog((l) =>
      l.module === "reporter" &&
      /event stream .* ended .*reconnecting in \d+ ms with 5 report\(s\) to resend/.test(
        String(l.msg),
      )
    );
    assert.equal(results.refused, 0, JSON.stringify(results));
    const recorded = moduleEvents("fixture.held").map((l) => l.event_id);
    assert.deepEqual(results.ids, recorded, "each report got the id of its one recorded event");

    // Everything after is in order, and nothing was recorded twice.
    await drive(orch.url, "reporter", { action: "report", type: "fixture.after", wait: true });
    await orch.waitForLog((l) => l.msg === "module event" && l.type === "fixture.after");
    assert.equal(moduleEvents("fixture.held").length, 5);
    const history = await fetch(`${orch.url}/v1/events?afterId=1&types=fixture.*`, {
      headers: { accept: "application/x-ndjson" },
    });
    const reader = history.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("fixture.after")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    await reader.cancel();
    const types = text.split("\n").filter(Boolean).map((l) => JSON.parse(l).event?.type);
    assert.deepEqual(types.filter((t) => t === "fixture.held").length, 5);
  } finally {
    await orch.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
