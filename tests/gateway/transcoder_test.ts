import assert from "node:assert/strict";
import {
  type DescMessage,
  type DescService,
  equals,
  fromJson,
  hasOption,
  toBinary,
  toJson,
} from "@bufbuild/protobuf";
import { ConfigService } from "@callassistant/protocol";
import { ControlService } from "@callassistant/protocol";
import { http } from "@callassistant/protocol/google/api/annotations";
import { Code, RpcError } from "@callassistant/rpc";
import { matchTemplate, parseTemplate } from "../../src/gateway/path_template.ts";
import { buildRoutes, matchRoute, type Route } from "../../src/gateway/route_table.ts";
import { decodeRequest } from "../../src/gateway/request_decoding.ts";

const services: DescService[] = [ControlService, ConfigService];
const routes = buildRoutes(services);

/** Matches a request and decodes it to canonical JSON (or throws the RpcError). */
function decode(method: string, target: string, body?: string): unknown {
  const url = new URL(target, "http://localhost");
  const m = matchRoute(routes, method, url.pathname);
  assert.equal(m.kind, "found", `${method} ${target} should match a route`);
  if (m.kind !== "found") return;
  const message = decodeRequest(m.route, { variables: m.variables, query: url.searchParams, body });
  const schema: DescMessage = m.route.method.input;
  return toJson(schema, message);
}

function invalidArgument(fn: () => unknown, includes: string | string[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof RpcError, `expected RpcError, got ${err}`);
    assert.equal(err.code, Code.INVALID_ARGUMENT);
    for (const text of [includes].flat()) {
      assert.ok(err.message.includes(text), `"${err.message}" should mention ${text}`);
    }
    return true;
  });
}

Deno.test("parseTemplate: literals, variables, verb", () => {
  const t = parseTemplate("/v1/modules/{name}:restart");
  assert.deepEqual(t.segments, [
    { kind: "literal", value: "v1" },
    { kind: "literal", value: "modules" },
    { kind: "wildcard" },
  ]);
  assert.deepEqual(t.variables, [{ fieldPath: ["name"], start: 2, end: 3 }]);
  assert.equal(t.verb, "restart");
  assert.equal(parseTemplate("/v1/paths:find").verb, "find");
  assert.equal(parseTemplate("/v1/modules/{name}").verb, undefined);
});

Deno.test("parseTemplate: nested field paths, multi-segment and ** variables", () => {
  const t = parseTemplate("/v1/{parent.name=projects/*}/files/{path=**}:get");
  assert.deepEqual(t.variables, [
    { fieldPath: ["parent", "name"], start: 1, end: 3 },
    { fieldPath: ["path"], start: 4, end: 5 },
  ]);
  assert.equal(t.verb, "get");
  assert.deepEqual(t.segments[4], { kind: "deep" });
});

Deno.test("parseTemplate: rejects invalid templates", () => {
  for (const bad of ["v1/x", "/v1/{name", "/v1/**/x", "/v1//x", "/v1/{a}/{a}", "/v1/x:", "/{1a}"]) {
    assert.throws(() => parseTemplate(bad), /invalid path template/, bad);
  }
});

Deno.test("matchTemplate: variables, decoding, verb, **", () => {
  const get = parseTemplate("/v1/modules/{name}");
  assert.deepEqual(matchTemplate(get, "/v1/modules/camera"), { name: "camera" });
  assert.deepEqual(matchTemplate(get, "/v1/modules/my%20cam"), { name: "my cam" });
  assert.deepEqual(matchTemplate(get, "/v1/modules/a%2Fb"), { name: "a/b" });
  assert.equal(matchTemplate(get, "/v1/modules"), undefined);
  assert.equal(matchTemplate(get, "/v1/modules/a/b"), undefined);
  assert.equal(matchTemplate(get, "/v1/modules/%zz"), undefined);

  const restart = parseTemplate("/v1/modules/{name}:restart");
  assert.deepEqual(matchTemplate(restart, "/v1/modules/cam:restart"), { name: "cam" });
  assert.equal(matchTemplate(restart, "/v1/modules/cam"), undefined);
  assert.equal(matchTemplate(restart, "/v1/modules/cam:stop"), undefined);
  assert.equal(matchTemplate(restart, "/v1/modules/:restart"), undefined);

  const deep = parseTemplate("/v1/{parent=shelves/*}/files/{path=**}");
  assert.deepEqual(matchTemplate(deep, "/v1/shelves/s1/files/a/b%20c/d"), {
    parent: "shelves/s1",
    path: "a/b c/d",
  });
  assert.deepEqual(matchTemplate(deep, "/v1/shelves/s1/files"), { parent: "shelves/s1", path: "" });
  assert.deepEqual(matchTemplate(deep, "/v1/shelves/s%2F1/files/x%2Fy"), {
    parent: "shelves/s%2F1",
    path: "x%2Fy",
  });
  assert.equal(matchTemplate(deep, "/v1/books/s1/files/a"), undefined);
});

Deno.test("matchTemplate: one trailing slash is ignored, an empty segment is not a value", () => {
  const list = parseTemplate("/v1/modules");
  assert.deepEqual(matchTemplate(list, "/v1/modules/"), {});
  assert.equal(matchTemplate(list, "/v1/modules//"), undefined);
  const get = parseTemplate("/v1/modules/{name}");
  assert.equal(matchTemplate(get, "/v1/modules/"), undefined);
  assert.deepEqual(matchTemplate(get, "/v1/modules/x/"), { name: "x" });
});

Deno.test("buildRoutes: every annotated RPC of ControlService and ConfigService has a route", () => {
  const annotated = services.flatMap((s) =>
    s.methods.filter((m) => hasOption(m, http)).map((m) => `${s.typeName}/${m.name}`)
  );
  assert.ok(annotated.length >= 23, "the protos annotate the control and config RPCs");
  const routed = new Set(
    routes.filter((r) => r.annotated).map((r) => `${r.service.typeName}/${r.method.name}`),
  );
  assert.deepEqual([...routed].sort(), [...annotated].sort());
});

Deno.test("buildRoutes: every RPC is also POST /<package>.<Service>/<Method>", () => {
  for (const service of services) {
    for (const method of service.methods) {
      const m = matchRoute(routes, "POST", `/${service.typeName}/${method.name}`);
      assert.equal(m.kind, "found");
      if (m.kind === "found") {
        assert.equal(m.route.method, method);
        assert.equal(m.route.body, "*");
      }
    }
  }
});

Deno.test("matchRoute: verbs, methods, 405 and 404", () => {
  const found = (method: string, path: string): Route | undefined => {
    const m = matchRoute(routes, method, path);
    return m.kind === "found" ? m.route : undefined;
  };
  assert.equal(found("GET", "/v1/modules")?.method.name, "ListModules");
  assert.equal(found("GET", "/v1/modules/cam")?.method.name, "GetModule");
  assert.equal(found("POST", "/v1/modules/cam:restart")?.method.name, "RestartModule");
  assert.equal(found("POST", "/v1/modules/cam:start")?.method.name, "StartModule");
  assert.equal(found("GET", "/v1/modules/cam/logs")?.method.name, "GetModuleLogs");
  assert.equal(found("PUT", "/v1/modules/cam/config")?.method.name, "SetModuleConfig");
  assert.equal(found("PATCH", "/v1/entities/e1")?.method.name, "ConfigureEntity");
  assert.equal(found("DELETE", "/v1/flows/f1")?.method.name, "DeleteFlow");
  assert.equal(found("POST", "/v1/flows/f1:adjustQuality")?.method.name, "AdjustFlowQuality");
  assert.equal(found("POST", "/v1/paths:find")?.method.name, "FindPath");
  assert.equal(found("get", "/v1/status")?.method.name, "GetSystemStatus");

  assert.deepEqual(matchRoute(routes, "POST", "/v1/modules/cam"), {
    kind: "method_not_allowed",
    allowed: ["GET"],
  });
  const entity = matchRoute(routes, "PUT", "/v1/entities/e1");
  assert.equal(entity.kind, "method_not_allowed");
  if (entity.kind === "method_not_allowed") {
    assert.deepEqual([...entity.allowed].sort(), ["DELETE", "GET", "PATCH"]);
  }
  assert.equal(matchRoute(routes, "GET", "/v1/nothing").kind, "not_found");
  assert.equal(matchRoute(routes, "POST", "/v1/modules/cam:explode").kind, "method_not_allowed");
  assert.equal(matchRoute(routes, "GET", "/v2/modules").kind, "not_found");
});

Deno.test("decodeRequest: path variables", () => {
  assert.deepEqual(decode("GET", "/v1/modules/my%20cam"), { name: "my cam" });
  assert.deepEqual(decode("POST", "/v1/modules/cam:restart"), { name: "cam" });
});

Deno.test("decodeRequest: path variables alone give the message fromJson gives", () => {
  let checked = 0;
  for (const route of routes) {
    const variables: Record<string, string> = {};
    for (const v of route.template.variables) variables[v.fieldPath.join(".")] = "a b/ü";
    const input = route.method.input;
    const made = decodeRequest(route, { variables, query: new URLSearchParams() });
    const json: Record<string, string> = {};
    for (const v of route.template.variables) {
      if (v.fieldPath.length === 1) json[v.fieldPath[0]] = "a b/ü";
    }
    if (Object.keys(json).length !== route.template.variables.length) continue;
    const parsed = fromJson(input, json);
    assert.ok(equals(input, made, parsed), `${route.httpMethod} ${route.template.source}`);
    assert.deepEqual(toBinary(input, made), toBinary(input, parsed));
    assert.deepEqual(
      toJson(input, made, { alwaysEmitImplicit: true }),
      toJson(input, parsed, {
        alwaysEmitImplicit: true,
      }),
    );
    checked++;
  }
  assert.ok(checked >= 40, `checked ${checked} routes`);
});

Deno.test("decodeRequest: query parameters (enum by name or number, repeated, bool, int64)", () => {
  assert.deepEqual(decode("GET", "/v1/modules?state=MODULE_STATE_READY"), {
    state: "MODULE_STATE_READY",
  });
  assert.deepEqual(decode("GET", "/v1/modules?state=4"), { state: "MODULE_STATE_READY" });
  assert.deepEqual(
    decode(
      "GET",
      "/v1/events?modules=a&modules=b&types=module.*&min_severity=SEVERITY_WARNING&afterId=42",
    ),
    { modules: ["a", "b"], types: ["module.*"], minSeverity: "SEVERITY_WARNING", afterId: "42" },
  );
  assert.deepEqual(decode("GET", "/v1/modules/cam/logs?tail=5&follow=true"), {
    name: "cam",
    tail: 5,
    follow: true,
  });
  assert.deepEqual(decode("GET", "/v1/modules/cam/logs?follow"), { name: "cam", follow: true });
  assert.deepEqual(decode("GET", "/v1/modules/cam/logs?follow=false"), { name: "cam" });
  assert.deepEqual(decode("GET", "/v1/entities?entity_type=camera&kind=ENTITY_KIND_SOURCE"), {
    entityType: "camera",
    kind: "ENTITY_KIND_SOURCE",
  });
});

Deno.test("decodeRequest: path variables win over query parameters and body fields", () => {
  assert.deepEqual(decode("GET", "/v1/modules/cam?name=other"), { name: "cam" });
  assert.deepEqual(decode("POST", "/v1/modules/cam:stop", '{"name":"other","timeout":"2s"}'), {
    name: "cam",
    timeout: "2s",
  });
});

Deno.test("decodeRequest: bad query parameters are INVALID_ARGUMENT naming the parameter", () => {
  invalidArgument(() => decode("GET", "/v1/modules?bogus=1"), '"bogus"');
  invalidArgument(() => decode("GET", "/v1/modules?state=BOGUS"), ["state", "BOGUS"]);
  invalidArgument(() => decode("GET", "/v1/modules?state=A&state=B"), '"state"');
  invalidArgument(() => decode("GET", "/v1/modules/cam/logs?follow=maybe"), '"follow"');
  invalidArgument(() => decode("GET", "/v1/modules/cam/logs?tail=many"), "tail");
  invalidArgument(() => decode("GET", "/v1/modules/cam/logs?tail.x=1"), '"tail.x"');
  invalidArgument(() => decode("POST", "/v1/entities?name=x", "{}"), '"name"');
});

Deno.test("decodeRequest: body with lowerCamelCase or proto names and well-known types", () => {
  const want = {
    entityType: "camera",
    name: "Front door",
    configuration: { url: "rtsp://cam", fps: 15, tags: ["a"] },
  };
  assert.deepEqual(
    decode("POST", "/v1/entities", JSON.stringify({ ...want })),
    want,
  );
  assert.deepEqual(
    decode(
      "POST",
      "/v1/entities",
      JSON.stringify({
        entity_type: "camera",
        name: "Front door",
        configuration: want.configuration,
      }),
    ),
    want,
  );
  assert.deepEqual(
    decode("PUT", "/v1/modules/cam/config", '{"expected_revision":"3","config":{"a":true}}'),
    { name: "cam", config: { a: true }, expectedRevision: "3" },
  );
  assert.deepEqual(decode("POST", "/v1/modules/cam:restart", ""), { name: "cam" });
  assert.deepEqual(decode("POST", "/callassistant.v1.ControlService/GetModule", '{"name":"x"}'), {
    name: "x",
  });
});

Deno.test("decodeRequest: bad bodies are INVALID_ARGUMENT with a clear message", () => {
  invalidArgument(() => decode("POST", "/v1/entities", '{"entityType":'), "invalid JSON");
  invalidArgument(() => decode("POST", "/v1/entities", "[1]"), "JSON object");
  invalidArgument(() => decode("POST", "/v1/entities", '{"entityType":"c","bogus":1}'), '"bogus"');
  invalidArgument(
    () => decode("POST", "/v1/flows", '{"quality":{"nope":1}}'),
    '"quality.nope"',
  );
  invalidArgument(() => decode("POST", "/v1/entities", '{"entityType":5}'), "entity_type");
  invalidArgument(
    () => decode("POST", "/callassistant.v1.ControlService/ListModules", '{"state":"NOPE"}'),
    ['"state"', "NOPE", "MODULE_STATE_READY"],
  );
  invalidArgument(
    () => decode("POST", "/v1/modules/cam:stop", '{"timeout":"soon"}'),
    "Duration",
  );
});
