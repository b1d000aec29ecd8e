/**
 * W3C trace context end to end: a `traceparent` sent to the gateway (or to the gRPC
 * ControlService) is continued, returned, sent to the module, seen by the SDK handler,
 * and carried by the module's log line and by the event the module reported.
 */
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { ControlService } from "@callassistant/protocol";
import { createClient } from "@callassistant/rpc";
import {
  childOf,
  formatTraceparent,
  newSpanId,
  newTraceId,
  parseTraceparent,
} from "@callassistant/rpc";
import { addCamera, startOrchestrator, waitFor } from "../helpers/test_orchestrator.ts";
import { addReporter, drive, moduleInfo } from "../event_service/event_helpers.ts";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT = `00-${TRACE}-00f067aa0ba902b7-01`;

Deno.test("tracing: new ids are lower-case hex and do not repeat", () => {
  const seen = new Set<string>();
  // Enough ids to draw from the random pool several times over.
  for (let i = 0; i < 2000; i++) {
    const trace = newTraceId();
    const span = newSpanId();
    assert.match(trace, /^[0-9a-f]{32}$/);
    assert.match(span, /^[0-9a-f]{16}$/);
    seen.add(trace).add(span);
  }
  assert.equal(seen.size, 4000);
});

Deno.test("tracing: traceparent parsing follows W3C Trace Context", () => {
  assert.deepEqual(parseTraceparent(PARENT), {
    traceId: TRACE,
    spanId: "00f067aa0ba902b7",
    flags: 1,
  });
  assert.equal(formatTraceparent(parseTraceparent(PARENT)!), PARENT);
  // A later version is read by its 00 prefix; ff and malformed values are ignored.
  assert.equal(parseTraceparent(`01-${TRACE}-00f067aa0ba902b7-00-extra`)?.traceId, TRACE);
  for (
    const bad of [
      "",
      `ff-${TRACE}-00f067aa0ba902b7-01`,
      `00-${"0".repeat(32)}-00f067aa0ba902b7-01`,
      `00-${TRACE}-0000000000000000-01`,
      `00-${TRACE.toUpperCase()}-00f067aa0ba902b7-01`,
      `00-${TRACE}-00f067aa0ba902b7-01-extra`,
      `00-${TRACE}-00f067aa0ba902b7`,
    ]
  ) assert.equal(parseTraceparent(bad), undefined, bad);
  const child = childOf(parseTraceparent(PARENT));
  assert.equal(child.traceId, TRACE);
  assert.notEqual(child.spanId, "00f067aa0ba902b7");
  assert.match(formatTraceparent(childOf(undefined)), /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
});

Deno.test("tracing: a traceparent sent to the gateway reaches the module's log line and its event", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  await addCamera(dir);
  const orch = await startOrchestrator({ modules: dir });
  try {
    await waitFor(async () =>
      (await moduleInfo(orch.url, "test-camera")).state === "MODULE_STATE_READY"
    );
    const res = await fetch(`${orch.url}/v1/entities`, {
      method: "POST",
      headers: { "content-type": "application/json", traceparent: PARENT },
      body: JSON.stringify({ entityType: "video_source", name: "Porch" }),
    });
    const body = await res.json();
    assert.equal(res.status, 200, JSON.stringify(body));
    const id = body.entity?.id ?? body.id;
    // The response continues the trace in the gateway's own span.
    const returned = parseTraceparent(res.headers.get("traceparent"));
    assert.equal(returned?.traceId, TRACE);
    assert.notEqual(returned?.spanId, "00f067aa0ba902b7");

    // The module's own log line (captured by the orchestrator) carries the trace id.
    const line = await orch.waitForLog((l) =>
      l.module === "test-camera" && String(l.msg).includes("camera created")
    );
    assert.match(String(line.msg), new RegExp(`trace_id=${TRACE}`));
    assert.match(String(line.msg), new RegExp(`entity_id=${id}`));

    // The event the module reported while handling the call carries it too, and so
    // does the orchestrator's log line for it.
    const logged = await orch.waitForLog((l) =>
      l.msg === "module event" && l.type === "entity.created" && l.module === "test-camera"
    );
    assert.equal(logged.trace_id, TRACE);
    const events = await fetch(`${orch.url}/v1/events?afterId=1&types=entity.created`, {
      headers: { accept: "application/x-ndjson" },
    });
    const reader = events.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (text.split("\n").length < 3) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    await reader.cancel();
    const created = text.split("\n").filter(Boolean).map((l) => JSON.parse(l).event);
    const fromModule = created.find((e) => e.source === "module");
    const fromOrchestrator = created.find((e) => e.source === "orchestrator");
    assert.equal(fromModule?.traceId, TRACE);
    assert.equal(fromModule?.entityId, id);
    assert.equal(fromOrchestrator?.traceId, TRACE);

    // Without a traceparent the gateway starts a trace and returns it.
    const plain = await fetch(`${orch.url}/v1/status`);
    await plain.body?.cancel();
    const started = parseTraceparent(plain.headers.get("traceparent"));
    assert.ok(started && started.traceId !== TRACE);
  } finally {
    await orch.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tracing: gRPC ControlService calls continue the trace; SDK handlers and reports see it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  await addReporter(dir);
  const orch = await startOrchestrator({ modules: dir });
  const control = createClient(ControlService, orch.grpcAddress);
  const raw = new grpc.Client(orch.grpcAddress, grpc.credentials.createInsecure());
  try {
    await waitFor(async () =>
      (await moduleInfo(orch.url, "reporter")).state === "MODULE_STATE_READY"
    );

    // Response metadata carries the continued trace.
    const md = new grpc.Metadata();
    md.set("traceparent", PARENT);
    const headers = await new Promise<grpc.Metadata>((resolve, reject) => {
      const call = raw.makeUnaryRequest(
        "/callassistant.v1.ControlService/GetSystemStatus",
        () => Buffer.alloc(0),
        (b: Buffer) => b,
        {},
        md,
        (err) => err && reject(err),
      );
      call.on("metadata", resolve);
    });
    assert.equal(parseTraceparent(String(headers.get("traceparent")[0]))?.traceId, TRACE);

    // A restart over gRPC: its state changes carry the trace.
    await control.restartModule({ name: "reporter" }, { headers: { traceparent: PARENT } });
    const transitions = orch.logs.filter((l) =>
      l.msg === "module state changed" && l.module === "reporter" && l.trace_id === TRACE
    ).map((l) => l.to);
    assert.deepEqual(transitions.slice(0, 2), ["STOPPING", "STOPPED"]);
    assert.ok(transitions.includes("READY"));

    // A module handler sees the caller's trace: its log line and its event carry it.
    const other = "0af7651916cd43dd8448eb211c80319c";
    const result = await drive(
      orch.url,
      "reporter",
      { action: "report", type: "fixture.traced", wait: true },
      { traceparent: `00-${other}-b7ad6b7169203331-01` },
    );
    await drive(orch.url, "reporter", { action: "log", message: "hello from the handler" }, {
      traceparent: `00-${other}-b7ad6b7169203332-01`,
    });
    const line = await orch.waitForLog((l) =>
      l.module === "reporter" && String(l.msg).includes("hello from the handler")
    );
    assert.match(String(line.msg), new RegExp(`^INFO hello from the handler .*trace_id=${other}`));
    const event = await orch.waitForLog((l) =>
      l.msg === "module event" && l.type === "fixture.traced"
    );
    assert.equal(event.trace_id, other);
    assert.deepEqual(result.ids, [event.event_id]);
    // Events without a cause have no trace id.
    const startedEvent = orch.logs.find((l) =>
      l.msg === "module event" && l.type === "fixture.started"
    );
    assert.equal(startedEvent?.trace_id, undefined);
  } finally {
    raw.close();
    control.close();
    await orch.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
