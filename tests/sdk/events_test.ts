/**
 * Event reporting to a real EventService: the token, the fields, and failures that must
 * never reach the module's code.
 */
import assert from "node:assert/strict";
import { EntityService } from "@callassistant/protocol";
import { ModuleService } from "@callassistant/protocol";
import { EntityState, HealthState, MetricKind, Severity } from "@callassistant/protocol";
import { Code, RpcError } from "@callassistant/rpc";
import { createClient } from "@callassistant/rpc";
import { EventReporter } from "@callassistant/sdk";
import { EventServer, FIXTURES_DIR, freePort, startModule } from "./module_harness.ts";

Deno.test("events: EventReporter sends events, status and metrics with the bearer token", async () => {
  const server = await EventServer.start();
  const reporter = new EventReporter({ address: server.address, token: "tok-123" });
  try {
    const id = await reporter.report("camera.motion", {
      severity: "warning",
      message: "motion in zone 2",
      entityId: "cam1",
      flowId: "flow-9",
      data: { zone: 2, confidence: 0.9, tags: ["person"] },
    });
    assert.equal(id, 42n);
    const second = await reporter.report("camera.idle", { severity: Severity.DEBUG });
    assert.equal(second, 43n);

    assert.equal(
      await reporter.status({
        state: HealthState.DEGRADED,
        message: "one camera offline",
        entities: [{ entityId: "cam1", state: EntityState.FAILED, metrics: { fps: 0 } }],
      }),
      true,
    );
    assert.equal(
      await reporter.metrics([
        {
          name: "frames_total",
          value: 1500,
          kind: MetricKind.COUNTER,
          labels: { entity_id: "cam1" },
        },
        { name: "temperature_celsius", value: 41.5 },
      ]),
      true,
    );

    assert.deepEqual(server.received.map((r) => r.kind), ["event", "event", "status", "metrics"]);
    for (const r of server.received) assert.equal(r.authorization, "Bearer tok-123");

    const event = server.received[0].event!;
    assert.equal(event.type, "camera.motion");
    assert.equal(event.severity, Severity.WARNING);
    assert.equal(event.message, "motion in zone 2");
    assert.equal(event.entityId, "cam1");
    assert.equal(event.flowId, "flow-9");
    assert.deepEqual(event.data, { zone: 2, confidence: 0.9, tags: ["person"] });
    // Default severity is INFO when not given; here DEBUG was given.
    assert.equal(server.received[1].event!.severity, Severity.DEBUG);

    const status = server.received[2].status!;
    assert.equal(status.state, HealthState.DEGRADED);
    assert.equal(status.message, "one camera offline");
    assert.equal(status.entities[0].entityId, "cam1");
    assert.equal(status.entities[0].state, EntityState.FAILED);

    const metrics = server.received[3].metrics!.metrics;
    assert.equal(metrics.length, 2);
    assert.equal(metrics[0].name, "frames_total");
    assert.equal(metrics[0].value, 1500);
    assert.equal(metrics[0].kind, MetricKind.COUNTER);
    assert.deepEqual(metrics[0].labels, { entity_id: "cam1" });
  } finally {
    reporter.close();
    await server.close();
  }
});

Deno.test("events: a rejected report resolves to undefined and is logged, never thrown", async () => {
  const server = await EventServer.start({
    reportEvent: () => {
      throw new RpcError(Code.UNAUTHENTICATED, "missing or unknown module token");
    },
    reportStatus: () => {
      throw new RpcError(Code.PERMISSION_DENIED, "token of an earlier start");
    },
  });
  const logged: string[] = [];
  const reporter = new EventReporter({
    address: server.address,
    token: "stale",
    log: (line) => logged.push(line),
  });
  try {
    assert.equal(await reporter.report("x.y", { message: "m" }), undefined);
    assert.equal(await reporter.status({ state: HealthState.READY }), false);
    assert.equal(await reporter.report("x.z"), undefined);
    // The first failure is logged with its code; the next ones within the quiet period are
    // counted, not repeated.
    assert.equal(logged.length, 1, logged.join("\n"));
    assert.match(
      logged[0],
      /cannot report event "x\.y".*UNAUTHENTICATED.*missing or unknown module token/,
    );
    // A success after failures says so.
    assert.equal(await reporter.metrics([{ name: "up", value: 1 }]), true);
    assert.match(logged.at(-1)!, /work again \(3 failed before\)/);
  } finally {
    reporter.close();
    await server.close();
  }
});

Deno.test("events: an unreachable orchestrator or none at all never throws", async () => {
  const logged: string[] = [];
  const unreachable = new EventReporter({
    address: `127.0.0.1:${freePort()}`,
    token: "t",
    timeoutMs: 3000,
    log: (line) => logged.push(line),
  });
  const none = new EventReporter({ address: "", token: "", log: (line) => logged.push(line) });
  try {
    assert.equal(await unreachable.report("a.b"), undefined);
    assert.equal(await unreachable.metrics([{ name: "m", value: 1 }]), false);
    assert.match(logged[0], /cannot report event "a\.b" to the orchestrator: UNAVAILABLE/);

    assert.equal(none.enabled, false);
    assert.equal(await none.report("a.b"), undefined);
    assert.equal(await none.status({}), false);
    assert.equal(logged.filter((l) => l.includes("ORCHESTRATOR_ADDRESS is not set")).length, 1);
  } finally {
    unreachable.close();
    none.close();
  }
  // After close, reports resolve as undelivered.
  assert.equal(await unreachable.report("after.close"), undefined);
});

Deno.test("events: the test camera reports entity events with its MODULE_TOKEN", async () => {
  const server = await EventServer.start();
  const proc = await startModule({
    env: { ORCHESTRATOR_ADDRESS: server.address, MODULE_TOKEN: "camera-secret" },
  });
  const entity = createClient(EntityService, `127.0.0.1:${proc.port}`);
  try {
    await entity.createEntity({
      entityId: "cam7",
      entityType: "video_source",
      name: "Garden",
      configuration: { fps: 15 },
    });
    const created = await server.waitFor((r) => r.event?.type === "entity.created");
    assert.equal(created.authorization, "Bearer camera-secret");
    assert.equal(created.event?.entityId, "cam7");
    assert.equal(created.event?.severity, Severity.INFO);
    assert.match(created.event?.message ?? "", /Garden/);
    assert.equal(created.event?.data?.fps, 15);
    assert.equal(created.event?.data?.entityType, "video_source");

    await entity.destroyEntity({ entityId: "cam7" });
    const destroyed = await server.waitFor((r) => r.event?.type === "entity.destroyed");
    assert.equal(destroyed.event?.entityId, "cam7");
    assert.equal(destroyed.authorization, "Bearer camera-secret");
  } finally {
    entity.close();
    await proc.stop();
    await server.close();
  }
});

Deno.test("events: the token comes from the first line of standard input when told so", async () => {
  const server = await EventServer.start();
  const proc = await startModule({
    env: {
      ORCHESTRATOR_ADDRESS: server.address,
      MODULE_TOKEN_STDIN: "1",
      MODULE_TOKEN: "deprecated-env-secret",
    },
    stdinText: "MODULE_TOKEN=stdin-secret\n",
  });
  const entity = createClient(EntityService, `127.0.0.1:${proc.port}`);
  try {
    await entity.createEntity({ entityId: "cam8", entityType: "video_source", name: "Yard" });
    const created = await server.waitFor((r) => r.event?.type === "entity.created");
    assert.equal(created.authorization, "Bearer stdin-secret");
    assert.ok(!server.received.some((r) => r.authorization?.includes("deprecated-env-secret")));
    // Standard input is still watched after the token line: its end stops the module.
    await proc.closeStdin();
    assert.equal((await proc.waitForExit()).code, 0, proc.output);
    assert.match(proc.output, /standard input reached end of file/);
  } finally {
    entity.close();
    await proc.stop();
    await server.close();
  }
});

Deno.test("events: onShutdown's event is delivered before the module exits", async () => {
  const server = await EventServer.start();
  const proc = await startModule({
    cwd: FIXTURES_DIR,
    script: "config_module.ts",
    env: { ORCHESTRATOR_ADDRESS: server.address, MODULE_TOKEN: "fixture-token" },
  });
  const module = createClient(ModuleService, `127.0.0.1:${proc.port}`);
  try {
    await module.shutdown({ reason: "orchestrator shutting down" }, { timeoutMs: 5000 });
    assert.equal((await proc.waitForExit()).code, 0, proc.output);
    // Delivered before the exit: no waiting needed.
    const stopping = server.received.find((r) => r.event?.type === "fixture.stopping");
    assert.ok(stopping, `no fixture.stopping event; module output:\n${proc.output}`);
    assert.equal(stopping.authorization, "Bearer fixture-token");
    assert.equal(stopping.event?.severity, Severity.WARNING);
    assert.equal(stopping.event?.message, "Shutdown requested: orchestrator shutting down");
  } finally {
    module.close();
    await proc.stop();
    await server.close();
  }
});
