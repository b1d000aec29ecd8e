import assert from "node:assert/strict";
import type { DescService, JsonObject, JsonValue } from "@bufbuild/protobuf";
import { ConfigService } from "@callassistant/protocol";
import { ControlService } from "@callassistant/protocol";
import { DESCRIPTOR_SET_BASE64 } from "@callassistant/protocol/descriptor-set";
import { commentsFromDescriptorSet, openApiDocument } from "../../src/gateway/openapi.ts";

const services: DescService[] = [ControlService, ConfigService];
const doc = openApiDocument(services, DESCRIPTOR_SET_BASE64);

function at(value: JsonValue | undefined, ...path: (string | number)[]): JsonValue | undefined {
  let v = value;
  for (const key of path) {
    if (typeof v !== "object" || v === null) return undefined;
    v = (v as Record<string, JsonValue>)[key];
  }
  return v;
}

function operations(): [string, string, JsonObject][] {
  const out: [string, string, JsonObject][] = [];
  for (const [path, item] of Object.entries(doc.paths as JsonObject)) {
    for (const [verb, op] of Object.entries(item as JsonObject)) {
      out.push([path, verb, op as JsonObject]);
    }
  }
  return out;
}

Deno.test("openapi: comments are read from the descriptor set", () => {
  const comments = commentsFromDescriptorSet(DESCRIPTOR_SET_BASE64);
  assert.match(comments.get("callassistant.v1.ControlService.GetModule") ?? "", /NOT_FOUND/);
  assert.equal(comments.get("callassistant.v1.GetModuleRequest.name"), "The module name.");
  assert.ok(comments.has("callassistant.v1.ModuleState.MODULE_STATE_READY"));
});

Deno.test("openapi: operations have unique ids, summaries and error responses", () => {
  const ids = operations().map(([, , op]) => op.operationId);
  assert.equal(new Set(ids).size, ids.length);
  const get = at(doc, "paths", "/v1/modules/{name}", "get");
  assert.equal(at(get, "summary"), "Returns one module.");
  assert.equal(at(get, "parameters", 0, "in"), "path");
  assert.equal(at(get, "parameters", 0, "description"), "The module name.");
  for (const [path, verb, op] of operations()) {
    const success = Object.keys(at(op, "responses") as JsonObject).filter((s) => /^2/.test(s));
    assert.ok(success.length > 0, `${verb} ${path} has a 2xx response`);
  }
});

Deno.test("openapi: query parameters, bodies without path fields, streams", () => {
  const events = at(doc, "paths", "/v1/events", "get", "parameters") as JsonObject[];
  const modules = events.find((p) => p.name === "modules");
  assert.deepEqual(at(modules, "schema"), { type: "array", items: { type: "string" } });
  assert.ok(events.some((p) => p.name === "afterId"));
  const stop = at(doc, "paths", "/v1/modules/{name}:stop", "post");
  const props = at(stop, "requestBody", "content", "application/json", "schema", "properties");
  assert.deepEqual(Object.keys(props as JsonObject), ["timeout"]);
  const logs = at(doc, "paths", "/v1/modules/{name}/logs", "get", "responses", "200", "content");
  assert.deepEqual(Object.keys(logs as JsonObject).sort(), [
    "application/x-ndjson",
    "text/event-stream",
  ]);
});

Deno.test("openapi: every $ref points at a schema", () => {
  const schemas = at(doc, "components", "schemas") as JsonObject;
  const refs: string[] = [];
  const walk = (v: JsonValue) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (typeof v === "object" && v !== null) {
      for (const [k, x] of Object.entries(v)) {
        if (k === "$ref" && typeof x === "string") refs.push(x);
        else walk(x);
      }
    }
  };
  walk(doc);
  assert.ok(refs.length > 0);
  for (const ref of refs) {
    // A schema (whose name has dots) or a shared response.
    const [kind, name] = ref.replace("#/components/", "").split(/\/(.*)/s);
    assert.ok(name in (at(doc, "components", kind) as JsonObject), `${ref} resolves`);
  }
  assert.ok(refs.some((r) => r.startsWith("#/components/schemas/")));
  assert.equal(at(schemas, "callassistant.v1.Module", "properties", "restarts", "type"), "integer");
  assert.deepEqual(at(schemas, "callassistant.v1.Module", "properties", "startedAt"), {
    type: "string",
    format: "date-time",
    description: "When the current process was started.",
  });
});
