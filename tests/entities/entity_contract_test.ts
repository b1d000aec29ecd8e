/**
 * The entity contract with a real orchestrator and a real module: no entity before the
 * module is configured (FAILED_PRECONDITION naming the route, from the orchestrator and
 * from the SDK), `/readyz` 503 meanwhile; entity configurations checked against the type's
 * schema before the module is called; a rename reaches the module.
 */
import assert from "node:assert/strict";
import { EntityService } from "@callassistant/protocol";
import { Code, createClient, RpcError } from "@callassistant/rpc";
import {
  addModule,
  ROOT,
  startOrchestrator,
  waitFor,
  waitForState,
} from "../helpers/test_orchestrator.ts";

async function call(url: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

/** The module's lines so far. */
async function moduleLines(url: string): Promise<string[]> {
  const res = await fetch(`${url}/v1/modules/needs/logs?tail=1000`);
  return (await res.text()).trim().split("\n").filter(Boolean).map((l) => JSON.parse(l).entry.line);
}

Deno.test("entities: configure the module first; schema checked before the module; renames reach it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  await addModule(
    dir,
    "needs",
    `command: ["deno", "run", "--allow-all", "${ROOT}tests/fixtures/configurable.ts"]\n`,
  );
  const orch = await startOrchestrator({ modules: dir });
  try {
    const waiting = await waitForState(orch.url, "needs", "WAITING_FOR_CONFIG");

    // The orchestrator answers for the waiting module: configure it first, and how.
    const early = await call(orch.url, "POST", "/v1/entities", { entityType: "gadget" });
    assert.equal(early.status, 400, JSON.stringify(early.body));
    assert.equal(early.body.code, Code.FAILED_PRECONDITION);
    assert.match(
      early.body.message,
      /module "needs" is waiting for its configuration: configure it first \(PUT \/v1\/modules\/needs\/config/,
    );
    // Not ready while a module waits for its configuration.
    assert.equal(
      await fetch(`${orch.url}/readyz`).then(async (r) => {
        await r.body?.cancel();
        return r.status;
      }),
      503,
    );
    // A module called directly answers the same (the SDK's guard).
    const client = createClient(EntityService, `127.0.0.1:${waiting.grpcPort}`);
    try {
      await assert.rejects(
        client.createEntity({ entityId: "x", entityType: "gadget" }),
        (err: unknown) => {
          assert.ok(err instanceof RpcError);
          assert.equal(Code[err.code], "FAILED_PRECONDITION");
          assert.match(err.message, /configure it first \(PUT \/v1\/modules\/needs\/config\)/);
          return true;
        },
      );
    } finally {
      client.close();
    }

    const put = await call(orch.url, "PUT", "/v1/modules/needs/config", {
      config: { host: "cam.local" },
      expectedRevision: "0",
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const ready = await waitForState(orch.url, "needs", "READY");
    await waitFor(async () =>
      (await fetch(`${orch.url}/readyz`).then(async (r) => {
        await r.body?.cancel();
        return r.status;
      })) === 200
    );

    // The type's schema is checked by the orchestrator; the module never sees a bad one.
    const bad = await call(orch.url, "POST", "/v1/entities", {
      entityType: "gadget",
      id: "big",
      configuration: { size: 11, colour: "red" },
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.code, Code.INVALID_ARGUMENT);
    assert.match(
      bad.body.message,
      /invalid configuration for entity type "gadget" of module "needs": .*size: must be <= 10/,
    );
    assert.match(bad.body.message, /colour: unknown field/);

    const made = await call(orch.url, "POST", "/v1/entities", {
      entityType: "gadget",
      id: "g1",
      name: "First",
      configuration: { size: 3 },
    });
    assert.equal(made.status, 200, JSON.stringify(made.body));
    const badPatch = await call(orch.url, "PATCH", "/v1/entities/g1", {
      configuration: { size: 0 },
    });
    assert.equal(badPatch.status, 400);
    assert.match(badPatch.body.message, /size: must be >= 1/);
    const lines = await moduleLines(orch.url);
    assert.ok(!lines.some((l) => l.startsWith("CreateEntity big")), lines.join("\n"));
    assert.ok(!lines.some((l) => l.startsWith("ConfigureEntity g1")), "the bad PATCH stopped");

    // A rename alone reaches the module, with the current configuration.
    const renamed = await call(orch.url, "PATCH", "/v1/entities/g1", { name: "Renamed" });
    assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
    assert.equal(renamed.body.entity.name, "Renamed");
    const direct = createClient(EntityService, `127.0.0.1:${ready.grpcPort}`);
    try {
      const { entities } = await direct.listEntities({});
      assert.deepEqual(
        entities.map((e) => [e.id, e.name, e.configuration]),
        [["g1", "Renamed", { size: 3 }]],
      );
    } finally {
      direct.close();
    }
  } finally {
    await orch.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
