/**
 * The EventService on a real gRPC server (in this process) with real clients: tokens,
 * sequence numbers and acks on the Connect stream, heartbeat timeout, flood control,
 * status and metrics reports, and commands through the SDK's Connect transport.
 */
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { bindLoopback } from "../helpers/grpc.ts";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { EventBus } from "../../src/events/event_bus.ts";
import {
  createEventService,
  type EventServiceOptions,
} from "../../src/event_service/event_service.ts";
import { AsyncQueue } from "../../src/async/async_queue.ts";
import {
  type ConnectRequestSchema,
  type ConnectResponse,
  EventService,
  type ReportStatusRequest,
} from "@callassistant/protocol";
import { FlowState, HealthState, Severity } from "@callassistant/protocol";
import { Logger } from "../../src/log/logger.ts";
import { ModuleRecord } from "../../src/modules/module_record.ts";
import { ModuleRegistry } from "../../src/modules/module_registry.ts";
import { Code, RpcError } from "@callassistant/rpc";
import { createClient } from "@callassistant/rpc";
import { addService } from "@callassistant/rpc";
import { ConnectReportTransport } from "../../packages/sdk-ts/connect_transport.ts";
import { waitFor } from "../helpers/test_orchestrator.ts";

type Request = MessageInitShape<typeof ConnectRequestSchema>;

async function setup(options: Partial<EventServiceOptions> = {}) {
  const bus = new EventBus();
  const logger = new Logger({ level: "error", format: "json", sinks: [() => {}] });
  const registry = new ModuleRegistry(bus, logger);
  const record = registry.add(new ModuleRecord("cam", undefined, "/m/cam/module.yaml"));
  record.token = "tok-cam";
  registry.add(new ModuleRecord("other", undefined, "/m/other/module.yaml")).token = "tok-other";
  const service = createEventService({ registry, bus, ...options });
  const server = new grpc.Server();
  addService(server, EventService, service.impl);
  const address = await bindLoopback(server);
  const client = createClient(EventService, address);
  return {
    bus,
    registry,
    record,
    service,
    address,
    client,
    auth: (token = "tok-cam") => ({ headers: { authorization: `Bearer ${token}` } }),
    async close() {
      client.close();
      service.close();
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    },
  };
}

async function rejectsWith(p: Promise<unknown>, code: Code, message?: RegExp) {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof RpcError, String(err));
    assert.equal(Code[err.code], Code[code], err.message);
    if (message) assert.match(err.message, message);
    return true;
  });
}

Deno.test("event service: a module reports only as itself (UNAUTHENTICATED, PERMISSION_DENIED)", async () => {
  const s = await setup();
  try {
    await rejectsWith(s.client.reportEvent({ type: "a.b" }), Code.UNAUTHENTICATED, /missing/);
    await rejectsWith(
      s.client.reportEvent({ type: "a.b" }, s.auth("stale")),
      Code.PERMISSION_DENIED,
    );
    await rejectsWith(s.client.reportStatus({}, s.auth("nope")), Code.PERMISSION_DENIED);
    await rejectsWith(s.client.reportMetrics({}), Code.UNAUTHENTICATED);
    const stream = s.client.connect(new AsyncQueue<Request>(), s.auth("nope"));
    await rejectsWith(
      (async () => {
        for await (const _ of stream) { /* nothing arrives */ }
      })(),
      Code.PERMISSION_DENIED,
    );
    // The module comes from the token, never from the message.
    const { eventId } = await s.client.reportEvent({ type: "a.b" }, s.auth("tok-other"));
    assert.equal(s.bus.since(0n).find((e) => e.id === eventId)?.module, "other");
    await rejectsWith(
      s.client.reportEvent({ type: "bad type!" }, s.auth()),
      Code.INVALID_ARGUMENT,
      /is not valid/,
    );
  } finally {
    await s.close();
  }
});

Deno.test("event service: Connect acks every message; a repeated sequence is acked again and ignored", async () => {
  const s = await setup();
  const requests = new AsyncQueue<Request>();
  try {
    const responses = s.client.connect(requests, s.auth())[Symbol.asyncIterator]();
    const ack = async () => {
      const r = (await responses.next()).value as ConnectResponse;
      assert.equal(r.payload.case, "ack");
      return r.payload.value as { sequence: bigint; eventId: bigint; error: string };
    };
    requests.push({ sequence: 1n, payload: { case: "heartbeat", value: {} } });
    assert.equal((await ack()).sequence, 1n);
    requests.push({
      sequence: 2n,
      payload: {
        case: "event",
        value: {
          type: "cam.motion",
          severity: Severity.WARNING,
          traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        },
      },
    });
    const a2 = await ack();
    assert.equal(a2.sequence, 2n);
    assert.ok(a2.eventId > 0n);
    requests.push({ sequence: 3n, payload: { case: "event", value: { type: "cam.idle" } } });
    const a3 = await ack();
    // After a reconnect the module resends 2 and 3: acked again with the same ids.
    requests.push({ sequence: 2n, payload: { case: "event", value: { type: "cam.motion" } } });
    requests.push({ sequence: 3n, payload: { case: "event", value: { type: "cam.idle" } } });
    assert.deepEqual(await ack(), { ...a2, $typeName: "callassistant.v1.Ack" } as never);
    assert.equal((await ack()).eventId, a3.eventId);
    requests.push({ sequence: 4n, payload: { case: "event", value: { type: "" } } });
    assert.match((await ack()).error, /^INVALID_ARGUMENT: event type is required/);
    const events = s.bus.since(0n).filter((e) => e.source === "module");
    assert.deepEqual(events.map((e) => e.type), ["cam.motion", "cam.idle"]);
    assert.equal(events[0].traceId, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert.equal(events[0].severity, Severity.WARNING);
    assert.deepEqual(s.service.connectedModules(), ["cam"]);
    requests.close();
    assert.equal((await responses.next()).done, true);
    await waitFor(() => s.service.connectedModules().length === 0);
    const down = s.bus.since(0n).find((e) => e.type === "module.event_channel_down");
    assert.equal(down?.severity, Severity.INFO);
  } finally {
    requests.close();
    await s.close();
  }
});

Deno.test("event service: a missed heartbeat ends the stream and marks the event channel down", async () => {
  const s = await setup({ heartbeatTimeoutMs: 300 });
  const requests = new AsyncQueue<Request>();
  try {
    const responses = s.client.connect(requests, s.auth());
    requests.push({ sequence: 1n, payload: { case: "heartbeat", value: {} } });
    await rejectsWith(
      (async () => {
        for await (const _ of responses) { /* the ack, then the end */ }
      })(),
      Code.DEADLINE_EXCEEDED,
      /no heartbeat or report within 300 ms/,
    );
    const down = await waitFor(() =>
      s.bus.since(0n).find((e) => e.type === "module.event_channel_down")
    );
    assert.equal(down.module, "cam");
    assert.equal(down.severity, Severity.WARNING);
    assert.match(down.message, /missed heartbeat/);
  } finally {
    requests.close();
    await s.close();
  }
});

Deno.test("event service: flooding gets RESOURCE_EXHAUSTED, one event says so, nothing is kept", async () => {
  const throttled: string[] = [];
  const s = await setup({
    eventRate: { perSecond: 1, burst: 5 },
    hooks: { onThrottled: (m, kind) => throttled.push(`${m}/${kind}`) },
  });
  try {
    for (let i = 0; i < 5; i++) await s.client.reportEvent({ type: "cam.tick" }, s.auth());
    for (let i = 0; i < 20; i++) {
      await rejectsWith(
        s.client.reportEvent({ type: "cam.tick" }, s.auth()),
        Code.RESOURCE_EXHAUSTED,
        /too many reports \(event\): at most 1\/s with bursts of 5/,
      );
    }
    const all = s.bus.since(0n);
    assert.equal(all.filter((e) => e.type === "cam.tick").length, 5);
    const notices = all.filter((e) => e.type === "module.events_throttled");
    assert.equal(notices.length, 1);
    assert.equal(notices[0].severity, Severity.WARNING);
    assert.equal(throttled.length, 20);
    // Another module is not affected.
    await s.client.reportEvent({ type: "other.tick" }, s.auth("tok-other"));
  } finally {
    await s.close();
  }
});

Deno.test("event service: status updates the module's health and reaches the flows area; metrics are checked", async () => {
  const statuses: [string, ReportStatusRequest][] = [];
  const s = await setup({ onStatus: (m, r) => statuses.push([m, r]) });
  try {
    await s.client.reportStatus({
      state: HealthState.DEGRADED,
      message: "lens fogged",
      flows: [{ flowId: "f1", state: FlowState.ACTIVE, module: "spoofed" }],
    }, s.auth());
    assert.equal(s.record.health.state, HealthState.DEGRADED);
    assert.equal(s.record.health.message, "lens fogged");
    assert.equal(statuses[0][0], "cam");
    assert.equal(statuses[0][1].flows[0].module, "cam");
    const changed = s.bus.since(0n).find((e) => e.type === "module.health_changed");
    assert.match(changed?.message ?? "", /cam reports DEGRADED: lens fogged/);

    await rejectsWith(
      s.client.reportMetrics({ metrics: [{ name: "bad-name", value: 1 }] }, s.auth()),
      Code.INVALID_ARGUMENT,
      /metrics\[0\] \(bad-name\)/,
    );
    await rejectsWith(
      s.client.reportMetrics(
        { metrics: [{ name: "x", value: 1, labels: { module: "y" } }] },
        s.auth(),
      ),
      Code.INVALID_ARGUMENT,
      /reserved/,
    );
    await s.client.reportMetrics({ metrics: [{ name: "fps", value: 29.97 }] }, s.auth());
    const text = s.service.moduleMetrics.render(() => true);
    assert.match(text, /^module_fps\{module="cam"\} 29\.97$/m);
  } finally {
    await s.close();
  }
});

Deno.test("event service: the SDK transport reconnects, resends, and carries out commands", async () => {
  const s = await setup();
  const logged: string[] = [];
  const transport = new ConnectReportTransport({
    address: s.address,
    token: "tok-cam",
    heartbeatMs: 100,
    backoffInitialMs: 20,
    log: (l) => logged.push(l),
    onCommand: (c) =>
      c.command.case === "setLogLevel"
        ? { ok: true, message: `level ${c.command.value.level}` }
        : { ok: false, message: "no" },
  });
  try {
    const id = await transport.reportEvent({ type: "cam.one" });
    assert.ok(id > 0n);
    await waitFor(() => s.service.connectedModules().includes("cam"));
    const result = await s.service.sendCommand("cam", {
      command: { case: "setLogLevel", value: { level: "debug" } },
    });
    assert.equal(result.ok, true);
    assert.equal(result.message, "level debug");
    const drain = await s.service.sendCommand("cam", { command: { case: "drain", value: {} } });
    assert.equal(drain.ok, false);
    await rejectsWith(
      s.service.sendCommand("other", { command: { case: "reload", value: {} } }),
      Code.UNAVAILABLE,
      /no open event stream/,
    );

    // The orchestrator ends the stream: the transport reconnects and goes on.
    s.service.close();
    const id2 = await transport.reportEvent({ type: "cam.two" });
    assert.ok(id2 > id);
    assert.ok(transport.connects >= 2, `connects: ${transport.connects}`);
    assert.equal(transport.pending, 0);
    assert.ok(logged.some((l) => /event stream to the orchestrator ended .*reconnecting/.test(l)));
    const types = s.bus.since(0n).filter((e) => e.source === "module").map((e) => e.type);
    assert.deepEqual(types, ["cam.one", "cam.two"]);
  } finally {
    transport.close();
    await s.close();
  }
});
