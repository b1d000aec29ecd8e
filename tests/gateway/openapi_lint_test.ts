/**
 * The `/openapi.json` a real orchestrator serves, judged by Redocly's linter with the
 * recommended rules (`scripts/lint_openapi.ts`), and its security: a bearer scheme
 * required by default, `security: []` exactly on the routes the gateway leaves open.
 */
import assert from "node:assert/strict";
import { lintOpenApi } from "../../scripts/lint_openapi.ts";
import { OPEN_PATHS } from "../../src/gateway/middleware/session_auth.ts";
import { startOrchestrator } from "../helpers/test_orchestrator.ts";

// deno-lint-ignore no-explicit-any
type Json = Record<string, any>;

Deno.test("openapi lint: redocly's recommended rules pass on the served document", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  const orch = await startOrchestrator({ modules: dir });
  let text: string;
  try {
    text = await (await fetch(`${orch.url}/openapi.json`)).text();
  } finally {
    await orch.stop();
    await Deno.remove(dir, { recursive: true });
  }
  const lint = await lintOpenApi(text);
  assert.equal(lint.code, 0, lint.output);
  assert.match(lint.output, /Your API description is valid/);
  assert.doesNotMatch(lint.output, /warning/, lint.output);

  const doc = JSON.parse(text) as Json;
  assert.deepEqual(doc.components.securitySchemes.bearerAuth, {
    ...doc.components.securitySchemes.bearerAuth,
    type: "http",
    scheme: "bearer",
  });
  assert.deepEqual(doc.security, [{ bearerAuth: [] }, { sessionCookie: [] }]);
  assert.ok(doc.servers.length > 0);
  // The open paths of the document are the gateway's.
  const open = Object.entries(doc.paths as Json).filter(([, ops]) =>
    Object.values(ops as Json).every((op) => Array.isArray(op.security) && op.security.length === 0)
  ).map(([path]) => path).sort();
  assert.deepEqual(open, [...OPEN_PATHS].sort());
  // Every RPC operation documents its 4xx from the error table.
  const get = doc.paths["/v1/modules/{name}"].get;
  for (const status of ["400", "401", "403", "404"]) assert.ok(get.responses[status], status);
  const put = doc.paths["/v1/modules/{name}/config"].put;
  for (const status of ["409", "413", "415"]) assert.ok(put.responses[status], status);
  assert.match(doc.components.responses.BadRequest.description, /INVALID_ARGUMENT/);
  assert.match(doc.components.responses.Conflict.description, /ALREADY_EXISTS, ABORTED/);

  // The lint can fail: no servers and a dangling reference are errors.
  delete doc.servers;
  get.responses["200"].content["application/json"].schema = { $ref: "#/components/schemas/Nope" };
  const bad = await lintOpenApi(JSON.stringify(doc));
  assert.notEqual(bad.code, 0);
  assert.match(bad.output, /no-empty-servers/);
  assert.match(bad.output, /no-unresolved-refs/);
});
