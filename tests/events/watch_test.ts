/**
 * WatchEvents end to end with the real orchestrator and a real module: Server-Sent
 * Events resume with `Last-Event-ID` with exactly the missed events, the stream lives
 * through a module restart, NDJSON by Accept, filters, and gRPC streaming.
 */
import assert from "node:assert/strict";
import { ControlService } from "@callassistant/protocol";
import { Severity } from "@callassistant/protocol";
import { createClient } from "@callassistant/rpc";
import { startOrchestrator, waitFor } from "../helpers/test_orchestrator.ts";
import {
  addReporter,
  drive,
  moduleInfo,
  openEvents,
  take,
} from "../event_service/event_helpers.ts";

const READY = "MODULE_STATE_READY";

Deno.test("events: an SSE client resumes with Last-Event-ID and gets exactly the events it missed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  await addReporter(dir);
  const orch = await startOrchestrator({ modules: dir });
  const opened: { close: () => Promise<void> }[] = [];
  try {
    await waitFor(async () => (await moduleInfo(orch.url, "reporter")).state === READY);
    const isTick = (e: { event: Record<string, unknown> }) => e.event.type === "fixture.tick";

    // A client follows only the fixture's ticks, from now on.
    const first = await openEvents(orch.url, "?types=fixture.tick");
    opened.push(first);
    const sent1 = await drive(orch.url, "reporter", {
      action: "report",
      type: "fixture.tick",
      count: 3,
      wait: true,
    });
    const got1 = await take(first.events, 3, isTick);
    assert.deepEqual(got1.map((e) => e.id), sent1.ids, "SSE ids are the event ids");
    assert.deepEqual(got1.map((e) => e.event.id), sent1.ids);
    for (const e of got1) {
      assert.equal(e.event.module, "reporter");
      assert.equal(e.event.source, "module");
      assert.equal(e.event.severity, "SEVERITY_INFO");
    }
    // The client goes away; events happen meanwhile (and other events around them).
    await first.close();
    const missed = await drive(orch.url, "reporter", {
      action: "report",
      type: "fixture.tick",
      count: 5,
      wait: true,
    });
    await drive(orch.url, "reporter", { action: "report", type: "fixture.other", wait: true });

    // It reconnects as EventSource does: same URL, Last-Event-ID = the last id it got.
    const again = await openEvents(orch.url, "?types=fixture.tick&afterId=1", {
      "last-event-id": got1[2].id!,
    });
    opened.push(again);
    const replayed = await take(again.events, 5);
    assert.deepEqual(replayed.map((e) => e.id), missed.ids, "exactly the missed events, in order");
    // Nothing else was replayed: the next item is a new event.
    const after = await drive(orch.url, "reporter", {
      action: "report",
      type: "fixture.tick",
      wait: true,
    });
    const next = await take(again.events, 1);
    assert.deepEqual(next.map((e) => e.id), after.ids);

    // A bad Last-Event-ID is a clear 400.
    const bad = await fetch(`${orch.url}/v1/events`, {
      headers: { accept: "text/event-stream", "last-event-id": "yesterday" },
    });
    assert.equal(bad.status, 400);
    assert.match((await bad.json()).message, /Last-Event-ID "yesterday" is not an event id/);
  } finally {
    for (const o of opened) await o.close();
    await orch.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("events: a watch lives through a module restart; NDJSON, filters and gRPC agree", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  await addReporter(dir);
  const orch = await startOrchestrator({ modules: dir });
  const control = createClient(ControlService, orch.grpcAddress);
  const abort = new AbortController();
  const opened: { close: () => Promise<void> }[] = [];
  try {
    const before = await waitFor(async () => {
      const m = await moduleInfo(orch.url, "reporter");
      return m.state === READY ? m : undefined;
    });
    const watch = await openEvents(orch.url, "?modules=reporter");
    opened.push(watch);
    const restarted = await fetch(`${orch.url}/v1/modules/reporter:restart`, { method: "POST" });
    assert.equal(restarted.status, 200);
    await restarted.body?.cancel();
    // The same stream shows the restart and then the new process's first event.
    const seen = await take(
      watch.events,
      1,
      (e) => e.event.type === "fixture.started" && e.event.message !== `pid ${before.pid}`,
    );
    assert.equal(seen[0].event.module, "reporter");
    const history = await fetch(`${orch.url}/v1/events?afterId=1&modules=reporter`, {
      headers: { accept: "application/x-ndjson" },
    });
    assert.match(history.headers.get("content-type") ?? "", /application\/x-ndjson/);
    const lines: Record<string, { type: string; data?: { to?: string } }>[] = [];
    const reader = history.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
      const parts = text.split("\n");
      text = parts.pop()!;
      for (const p of parts.filter(Boolean)) lines.push(JSON.parse(p));
      if (lines.filter((l) => l.event?.type === "fixture.started").length >= 2) break;
    }
    await reader.cancel();
    const transitions = lines.filter((l) => l.event?.type === "module.state_changed")
      .map((l) => l.event.data?.to);
    for (const state of ["STOPPING", "STOPPED", "STARTING", "READY"]) {
      assert.ok(transitions.includes(state), `${state} in ${transitions.join(", ")}`);
    }

    // gRPC: the same history, filtered by type prefix and severity.
    const items = control.watchEvents({
      afterId: 1n,
      types: ["module.*"],
      minSeverity: Severity.INFO,
    }, { signal: abort.signal });
    const got: string[] = [];
    for await (const item of items) {
      if (item.item.case !== "event") continue;
      const e = item.item.value;
      assert.ok(e.type.startsWith("module."), e.type);
      assert.ok(e.severity >= Severity.INFO);
      got.push(e.type);
      if (got.filter((t) => t === "module.state_changed").length >= 4) break;
    }
    assert.ok(got.length >= 4);
  } finally {
    abort.abort();
    for (const o of opened) await o.close();
    control.close();
    await orch.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
