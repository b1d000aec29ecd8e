import assert from "node:assert/strict";
import { create, type DescService } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { Hono } from "hono";
import { ConfigService } from "@callassistant/protocol";
import { ControlService, LogStream } from "@callassistant/protocol";
import { type Module, ModuleSchema, ModuleState, Severity } from "@callassistant/protocol";
import { Code, RpcError } from "@callassistant/rpc";
import type { PartialServiceImpl } from "@callassistant/rpc";
import { bindService, createGateway, type GatewayOptions } from "../../src/gateway/app.ts";
import { buildRoutes } from "../../src/gateway/route_table.ts";

interface ErrorBody {
  code: number;
  message: string;
  details: unknown[];
}

/** A small in-memory ControlService with the hooks the tests look at. */
function fixture(overrides: Partial<GatewayOptions> = {}) {
  const modules = new Map<string, Module>([
    [
      "camera",
      create(ModuleSchema, { name: "camera", version: "1.0.0", state: ModuleState.READY }),
    ],
    ["screen", create(ModuleSchema, { name: "screen", state: ModuleState.STOPPED })],
  ]);
  const seen: {
    headers?: Headers;
    peer?: string;
    aborted?: Promise<void>;
    closed?: boolean;
  } = {};
  const internal: string[] = [];
  const lookup = (name: string): Module => {
    const m = modules.get(name);
    if (!m) throw new RpcError(Code.NOT_FOUND, `module "${name}" not found`);
    return m;
  };
  const control: PartialServiceImpl<typeof ControlService> = {
    listModules(req) {
      return {
        modules: [...modules.values()].filter((m) => !req.state || m.state === req.state),
      };
    },
    getModule(req, ctx) {
      seen.headers = ctx.headers;
      seen.peer = ctx.peer;
      ctx.responseHeaders.set("x-handler", "getModule");
      return Promise.resolve({ module: lookup(req.name) });
    },
    restartModule(req) {
      const m = lookup(req.name);
      m.restarts++;
      return Promise.resolve({ module: m });
    },
    createEntity(req) {
      return Promise.resolve({
        entity: {
          id: "e1",
          entityType: req.entityType,
          name: req.name,
          module: req.module || "camera",
          configuration: req.configuration,
        },
      });
    },
    getSystemStatus() {
      return Promise.reject(new Error("boom"));
    },
    async *getModuleLogs(req, ctx) {
      lookup(req.name);
      if (req.follow) {
        seen.aborted = new Promise((resolve) =>
          ctx.signal.addEventListener("abort", () => resolve(), { once: true })
        );
      }
      try {
        if (req.name === "screen") {
          yield { entry: { module: "screen", line: "starting", sequence: 1n } };
          throw new RpcError(Code.UNAVAILABLE, "screen went away");
        }
        for (let i = 1; i <= 3; i++) {
          yield {
            entry: {
              module: req.name,
              line: `line ${i}`,
              sequence: BigInt(i),
              stream: LogStream.STDOUT,
              time: timestampFromMs(Date.UTC(2024, 0, 1, 0, 0, i)),
            },
          };
        }
        if (seen.aborted) await seen.aborted;
      } finally {
        seen.closed = true;
      }
    },
    async *watchEvents(_req, ctx) {
      const after = Number(ctx.headers.get("last-event-id") ?? "0");
      for (let id = after + 1; id <= 3; id++) {
        yield {
          item: {
            case: "event",
            value: { id: BigInt(id), type: "module.test", severity: Severity.INFO },
          },
        };
      }
      yield { item: { case: "gap", value: { fromId: 4n, toId: 5n, reason: "test" } } };
    },
  };
  const config: PartialServiceImpl<typeof ConfigService> = {
    setModuleConfig(req) {
      lookup(req.name);
      if (req.expectedRevision !== 3n) throw new RpcError(Code.ABORTED, "revision changed");
      return Promise.resolve({
        current: { module: req.name, revision: req.expectedRevision + 1n, config: req.config },
      });
    },
  };
  let ready = false;
  const app = createGateway({
    services: [bindService(ControlService, control), bindService(ConfigService, config)],
    isReady: () => ready,
    onInternalError: (method, err) => internal.push(`${method}: ${err}`),
    extraRoutes: (app: Hono) => {
      app.get("/metrics", (c) => c.text("up 1\n"));
    },
    ...overrides,
  });
  return { app, seen, internal, setReady: (r: boolean) => (ready = r) };
}

async function json<T = Record<string, unknown>>(res: Response): Promise<T> {
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  return await res.json() as T;
}

async function expectError(res: Response, status: number, code: Code, includes?: string) {
  assert.equal(res.status, status);
  const body = await json<ErrorBody>(res);
  assert.equal(body.code, code);
  assert.equal(typeof body.message, "string");
  assert.ok(Array.isArray(body.details));
  if (includes) assert.ok(body.message.includes(includes), `"${body.message}" has ${includes}`);
}

Deno.test("gateway: unary GET with canonical JSON, default values and handler headers", async () => {
  const { app, seen } = fixture();
  const res = await app.request("/v1/modules/camera", { headers: { "x-request-id": "r1" } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-handler"), "getModule");
  const body = await json<{ module: Record<string, unknown> }>(res);
  assert.equal(body.module.name, "camera");
  assert.equal(body.module.state, "MODULE_STATE_READY");
  assert.equal(body.module.restarts, 0);
  assert.equal(body.module.grpcPort, 0);
  assert.deepEqual(body.module.capabilities, []);
  assert.equal(body.module.lastError, "");
  assert.equal(seen.headers?.get("x-request-id"), "r1");
  assert.equal(typeof seen.peer, "string");
});

Deno.test("gateway: query parameters and POST with a :verb", async () => {
  const { app } = fixture();
  const list = await json<{ modules: { name: string }[] }>(
    await app.request("/v1/modules?state=MODULE_STATE_STOPPED"),
  );
  assert.deepEqual(list.modules.map((m) => m.name), ["screen"]);
  const res = await app.request("/v1/modules/camera:restart", { method: "POST" });
  assert.equal(res.status, 200);
  assert.equal((await json<{ module: { restarts: number } }>(res)).module.restarts, 1);
});

Deno.test("gateway: JSON body with either field casing, int64 as strings", async () => {
  const { app } = fixture();
  const res = await app.request("/v1/entities", {
    method: "POST",
    body: JSON.stringify({ entity_type: "camera", name: "Door", configuration: { fps: 15 } }),
    headers: { "content-type": "application/json" },
  });
  assert.equal(res.status, 200);
  const body = await json<{ entity: Record<string, unknown> }>(res);
  assert.equal(body.entity.entityType, "camera");
  assert.deepEqual(body.entity.configuration, { fps: 15 });
  assert.equal(body.entity.state, "ENTITY_STATE_UNSPECIFIED");

  const put = await app.request("/v1/modules/camera/config", {
    method: "PUT",
    body: JSON.stringify({ config: { url: "rtsp://x" }, expectedRevision: "3" }),
    headers: { "content-type": "application/json" },
  });
  assert.equal(put.status, 200);
  const current = (await json<{ current: Record<string, unknown> }>(put)).current;
  assert.equal(current.revision, "4");
  assert.deepEqual(current.config, { url: "rtsp://x" });

  const stale = await app.request("/v1/modules/camera/config", {
    method: "PUT",
    body: JSON.stringify({ config: {}, expected_revision: 1 }),
    headers: { "content-type": "application/json" },
  });
  await expectError(stale, 409, Code.ABORTED, "revision");
});

Deno.test("gateway: RPC-style POST /<package>.<Service>/<Method>", async () => {
  const { app } = fixture();
  const res = await app.request("/callassistant.v1.ControlService/GetModule", {
    method: "POST",
    body: '{"name":"camera"}',
    headers: { "content-type": "application/json" },
  });
  assert.equal(res.status, 200);
  assert.equal((await json<{ module: { name: string } }>(res)).module.name, "camera");
});

Deno.test("gateway: handler errors map to HTTP status and the error body", async () => {
  const { app, internal } = fixture();
  const missing = await app.request("/v1/modules/nope");
  assert.equal(missing.headers.get("x-handler"), "getModule");
  await expectError(missing, 404, Code.NOT_FOUND, 'module "nope" not found');
  await expectError(await app.request("/v1/status"), 500, Code.INTERNAL, "boom");
  assert.deepEqual(internal, ["callassistant.v1.ControlService/GetSystemStatus: Error: boom"]);
  await expectError(await app.request("/v1/flows"), 501, Code.UNIMPLEMENTED, "ListFlows");
});

Deno.test("gateway: unknown routes are 404, other methods 405, as JSON", async () => {
  const { app } = fixture();
  await expectError(await app.request("/v1/nothing"), 404, Code.NOT_FOUND, "GET /v1/nothing");
  const res = await app.request("/v1/modules/camera", { method: "POST" });
  assert.equal(res.headers.get("allow"), "GET");
  await expectError(res, 405, Code.UNIMPLEMENTED, "POST");
});

Deno.test("gateway: bad input is 400 INVALID_ARGUMENT", async () => {
  const { app } = fixture();
  const post = (body: string) =>
    app.request("/v1/entities", {
      method: "POST",
      body,
      headers: { "content-type": "application/json" },
    });
  await expectError(await post('{"entityType":'), 400, Code.INVALID_ARGUMENT, "invalid JSON");
  await expectError(
    await post('{"entityType":"c","bogus":1}'),
    400,
    Code.INVALID_ARGUMENT,
    "bogus",
  );
  await expectError(await post('{"entityType":7}'), 400, Code.INVALID_ARGUMENT, "entity_type");
  await expectError(
    await app.request("/v1/modules?state=NOT_A_STATE"),
    400,
    Code.INVALID_ARGUMENT,
    "NOT_A_STATE",
  );
  await expectError(
    await app.request("/v1/modules?colour=red"),
    400,
    Code.INVALID_ARGUMENT,
    '"colour"',
  );
});

Deno.test("gateway: request bodies past the limit get 413 with the JSON error body", async () => {
  const { app } = fixture({ bodyLimitBytes: 64 });
  const big = JSON.stringify({ entityType: "camera", name: "x".repeat(100) });
  const withLength = await app.request("/v1/entities", {
    method: "POST",
    body: big,
    headers: { "content-length": String(big.length), "content-type": "application/json" },
  });
  await expectError(withLength, 413, Code.RESOURCE_EXHAUSTED, "64 bytes");
  const streamed = await app.request("/v1/entities", {
    method: "POST",
    body: new Blob([big]).stream(),
    headers: { "content-type": "application/json" },
  });
  await expectError(streamed, 413, Code.RESOURCE_EXHAUSTED);
  const small = await app.request("/v1/entities", {
    method: "POST",
    body: '{"name":"ok"}',
    headers: { "content-type": "application/json" },
  });
  assert.equal(small.status, 200);
});

Deno.test("gateway: server streaming as NDJSON", async () => {
  const { app } = fixture();
  const res = await app.request("/v1/modules/camera/logs?tail=3");
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/x-ndjson");
  const lines = (await res.text()).split("\n");
  assert.equal(lines.pop(), "");
  const items = lines.map((l) => JSON.parse(l));
  assert.deepEqual(items.map((i) => i.entry.line), ["line 1", "line 2", "line 3"]);
  assert.equal(items[0].entry.sequence, "1");
  assert.equal(items[0].entry.stream, "LOG_STREAM_STDOUT");
  assert.equal(items[0].entry.time, "2024-01-01T00:00:01Z");
});

Deno.test("gateway: server streaming as Server-Sent Events with id lines", async () => {
  const { app } = fixture();
  const res = await app.request("/v1/modules/camera/logs", {
    headers: { accept: "text/event-stream" },
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
  const frames = (await res.text()).split("\n\n").filter((f) => f !== "");
  assert.equal(frames.length, 3);
  frames.forEach((frame, i) => {
    const [id, data] = frame.split("\n");
    assert.equal(id, `id: ${i + 1}`);
    assert.ok(data.startsWith("data: "));
    assert.equal(JSON.parse(data.slice(6)).entry.line, `line ${i + 1}`);
  });
});

Deno.test("gateway: SSE passes Last-Event-ID to the handler and ids events", async () => {
  const { app } = fixture();
  const res = await app.request("/v1/events", {
    headers: { accept: "text/event-stream", "last-event-id": "1" },
  });
  const frames = (await res.text()).split("\n\n").filter((f) => f !== "");
  assert.equal(frames.length, 3);
  assert.ok(frames[0].startsWith("id: 2\ndata: "));
  assert.ok(frames[1].startsWith("id: 3\ndata: "));
  // A gap has no event id, so no id line.
  assert.ok(frames[2].startsWith("data: "));
  assert.deepEqual(JSON.parse(frames[2].slice(6)).gap, { fromId: "4", toId: "5", reason: "test" });
});

Deno.test("gateway: streaming errors before the first item get their own status", async () => {
  const { app } = fixture();
  await expectError(await app.request("/v1/modules/nope/logs"), 404, Code.NOT_FOUND, "nope");
});

Deno.test("gateway: an error mid-stream ends the stream with an error item", async () => {
  const { app } = fixture();
  const nd = (await (await app.request("/v1/modules/screen/logs")).text()).trim().split("\n");
  assert.equal(nd.length, 2);
  assert.deepEqual(JSON.parse(nd[1]), {
    error: { code: Code.UNAVAILABLE, message: "screen went away", details: [] },
  });
  const sse = await (await app.request("/v1/modules/screen/logs", {
    headers: { accept: "text/event-stream" },
  })).text();
  assert.ok(sse.includes('event: error\ndata: {"code":14,"message":"screen went away"'));
});

Deno.test("gateway: a client disconnect aborts the handler's signal", async () => {
  const { app, seen } = fixture();
  const res = await app.request("/v1/modules/camera/logs?follow=true", {
    headers: { accept: "text/event-stream" },
  });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  while (!text.includes("line 3")) {
    const { value, done } = await reader.read();
    assert.ok(!done);
    text += decoder.decode(value);
  }
  assert.ok(seen.aborted, "the handler waits for the client");
  assert.ok(!seen.closed);
  await reader.cancel();
  await seen.aborted;
  for (let i = 0; i < 10 && !seen.closed; i++) await new Promise((r) => setTimeout(r, 0));
  assert.ok(seen.closed, "the handler's generator finished");
});

Deno.test("gateway: /healthz, /readyz, extra routes", async () => {
  const { app, setReady } = fixture();
  const health = await app.request("/healthz");
  assert.equal(health.status, 200);
  assert.deepEqual(await json(health), { status: "ok" });
  const notReady = await app.request("/readyz");
  assert.equal(notReady.status, 503);
  await notReady.body?.cancel();
  setReady(true);
  const ready = await app.request("/readyz");
  assert.equal(ready.status, 200);
  assert.deepEqual(await json(ready), { status: "ready" });
  assert.equal(await (await app.request("/metrics")).text(), "up 1\n");
});

Deno.test("gateway: /openapi.json has an operation for every annotated route", async () => {
  const { app } = fixture();
  const res = await app.request("/openapi.json");
  assert.equal(res.status, 200);
  const doc = await json<{ openapi: string; paths: Record<string, Record<string, unknown>> }>(res);
  assert.equal(doc.openapi, "3.1.0");
  const services: DescService[] = [ControlService, ConfigService];
  const routes = buildRoutes(services).filter((r) => r.annotated);
  assert.ok(routes.length > 0);
  for (const route of routes) {
    const path = route.template.source.replace(/\{([^}=]+)(=[^}]*)?\}/g, "{$1}");
    const op = doc.paths[path]?.[route.httpMethod.toLowerCase()];
    assert.ok(op, `${route.httpMethod} ${path} is documented`);
  }
  assert.ok(doc.paths["/callassistant.v1.ControlService/GetModule"]?.post);
});
