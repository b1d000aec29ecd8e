/**
 * Every annotated route of the real orchestrator's gateway gives the same answer as the
 * same RPC over gRPC: the same JSON for successes, the same code for errors. Routes and
 * requests are derived from the descriptors, so a new annotated RPC is covered unasked.
 */
import assert from "node:assert/strict";
import { create, type DescMethod, fromJson, type JsonObject, toJson } from "@bufbuild/protobuf";
import { ConfigService } from "@callassistant/protocol";
import { ControlService } from "@callassistant/protocol";
import { ModuleState } from "@callassistant/protocol";
import { buildRoutes } from "../../src/gateway/route_table.ts";
import { createClient } from "@callassistant/rpc";
import { toRpcError } from "@callassistant/rpc";
import { addCamera, startOrchestrator, waitFor } from "../helpers/test_orchestrator.ts";

/** Fields that change between two calls made a moment apart. */
const VOLATILE = new Set(["checkedAt", "uptime", "time"]);

function stable(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stable);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).filter(([k]) => !VOLATILE.has(k)).map(([k, v]) => [k, stable(v)]),
    );
  }
  return value;
}

type Outcome = { ok: true; items: unknown[] } | { ok: false; code: number };

/** Reads at most `limit` items of a stream, then cancels it. */
async function firstItems<T>(items: AsyncIterable<T>, limit: number): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) {
    out.push(item);
    if (out.length >= limit) break;
  }
  return out;
}

const STREAM_LIMIT = 3;

Deno.test("every annotated route agrees with the same RPC over gRPC", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  await addCamera(dir);
  const orch = await startOrchestrator({ modules: dir });
  const control = createClient(ControlService, orch.grpcAddress);
  const config = createClient(ConfigService, orch.grpcAddress);
  // deno-lint-ignore no-explicit-any
  const clients = new Map<unknown, any>([[ControlService, control], [ConfigService, config]]);
  try {
    await waitFor(async () => {
      const { modules } = await control.listModules({});
      return modules[0]?.state === ModuleState.READY;
    });
    const routes = buildRoutes([ControlService, ConfigService]).filter((r) => r.annotated);
    assert.ok(routes.length >= 20, `found ${routes.length} annotated routes`);
    for (const route of routes) {
      const method: DescMethod = route.method;
      // Reads use the real module; writes use a name that does not exist, so they change nothing.
      const value = route.httpMethod === "GET" ? "test-camera" : "no-such-thing";
      const vars: JsonObject = {};
      let path = route.template.source;
      for (const v of route.template.variables) {
        vars[v.fieldPath.join(".")] = value;
      }
      path = path.replace(/\{([^}=]+)(=[^}]*)?\}/g, () => value);
      const streaming = method.methodKind === "server_streaming";
      // WatchEvents never ends: after event 1 (STARTING) the history surely holds the
      // event channel opening and READY, not necessarily more.
      const limit = method.name === "WatchEvents" ? 2 : STREAM_LIMIT;
      // Streams start from history, so both transports see the same first items at once.
      const query: Record<string, string> = { GetModuleLogs: "?tail=5", WatchEvents: "?afterId=1" };
      const url = `${orch.url}${path}${query[method.name] ?? ""}`;

      const res = await fetch(url, {
        method: route.httpMethod,
        headers: { "content-type": "application/json", accept: "application/x-ndjson" },
        body: route.body ? "{}" : undefined,
      });
      let http: Outcome;
      if (res.ok) {
        if (streaming) {
          // Chunks are not lines: read until `limit` whole lines (or the end).
          let text = "";
          if (res.body) {
            for await (const chunk of res.body.pipeThrough(new TextDecoderStream())) {
              text += chunk;
              if (text.split("\n").length > limit) break;
            }
          }
          const lines = text.split("\n").slice(0, limit).filter(Boolean);
          http = { ok: true, items: lines.map((l) => JSON.parse(l)) };
        } else http = { ok: true, items: [await res.json()] };
      } else {
        const body = await res.json();
        http = { ok: false, code: body.code };
      }

      const client = clients.get(route.service);
      const request = create(
        method.input,
        fromJson(method.input, {
          ...vars,
          ...(method.name === "GetModuleLogs" ? { tail: 5 } : {}),
          ...(method.name === "WatchEvents" ? { afterId: "1" } : {}),
        }),
      );
      let grpc: Outcome;
      try {
        if (streaming) {
          const items = await firstItems(client[method.localName](request), limit);
          grpc = {
            ok: true,
            items: items.map((i) =>
              toJson(method.output, i as never, { alwaysEmitImplicit: true })
            ),
          };
        } else {
          const reply = await client[method.localName](request);
          grpc = { ok: true, items: [toJson(method.output, reply, { alwaysEmitImplicit: true })] };
        }
      } catch (err) {
        grpc = { ok: false, code: toRpcError(err).code };
      }
      const label = `${route.httpMethod} ${route.template.source} (${method.name})`;
      assert.equal(
        http.ok,
        grpc.ok,
        `${label}: HTTP ${JSON.stringify(http)} vs gRPC ${JSON.stringify(grpc)}`,
      );
      if (http.ok && grpc.ok) assert.deepEqual(stable(http.items), stable(grpc.items), label);
      if (!http.ok && !grpc.ok) assert.equal(http.code, grpc.code, label);
    }
  } finally {
    for (const c of clients.values()) c.close();
    await orch.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
