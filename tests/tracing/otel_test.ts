/**
 * OpenTelemetry export through Deno's built-in support (OTEL_DENO=true): a real OTLP/HTTP
 * collector (JSON) receives the orchestrator's and the module's spans of one gateway hop,
 * all in the trace of the caller's `traceparent`, client and server spans linked.
 */
import assert from "node:assert/strict";
import { addCamera, startOrchestrator, waitFor } from "../helpers/test_orchestrator.ts";

type Span = {
  service: string;
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId: string;
};

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const SERVER = 2;
const CLIENT = 3;

Deno.test("tracing: with OTEL_DENO=true the spans of a hop reach an OTLP collector in the caller's trace", async () => {
  const spans: Span[] = [];
  const collector = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const body = await req.json();
    if (new URL(req.url).pathname === "/v1/traces") {
      for (const rs of body.resourceSpans ?? []) {
        const service = rs.resource?.attributes?.find((a: { key: string }) =>
          a.key === "service.name"
        )?.value?.stringValue;
        for (const ss of rs.scopeSpans ?? []) {
          for (const s of ss.spans ?? []) spans.push({ service, ...s });
        }
      }
    }
    return Response.json({});
  });
  const dir = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  await addCamera(dir);
  const orch = await startOrchestrator({
    modules: dir,
    env: {
      OTEL_DENO: "true",
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collector.addr.port}`,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_SERVICE_NAME: "call-assistant-test",
      OTEL_BSP_SCHEDULE_DELAY: "200",
    },
  });
  try {
    const entity = await waitFor(
      async () => {
        const res = await fetch(`${orch.url}/v1/entities`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ entityType: "video_source", name: "Porch" }),
        });
        const body = await res.json();
        return res.status === 200 ? body.entity?.id as string : undefined;
      },
      30_000,
      "a camera entity",
    );
    const res = await fetch(`${orch.url}/v1/entities/${entity}`, {
      headers: { traceparent: `00-${TRACE_ID}-00f067aa0ba902b7-01` },
    });
    assert.equal(res.status, 200);
    await res.body?.cancel();
    // Deno exports in batches: wait for the hop's spans.
    const [server, client] = await waitFor(
      () => {
        const ours = spans.filter((s) => s.traceId === TRACE_ID);
        const server = ours.find((s) => s.kind === SERVER && s.parentSpanId === "00f067aa0ba902b7");
        const client = ours.find((s) => s.kind === CLIENT && /GetEntityStatus/.test(s.name));
        return server && client ? [server, client] as const : undefined;
      },
      30_000,
      "the gateway's server span and the client span of GetEntityStatus",
    );
    assert.equal(server.service, "call-assistant-test");
    assert.equal(client.service, "call-assistant-test");
    assert.notEqual(client.spanId, server.spanId);
  } finally {
    await orch.stop();
    await collector.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
