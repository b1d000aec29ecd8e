/**
 * The SDK's ModuleService defaults, through a fixture module that needs configuration.
 */
import assert from "node:assert/strict";
import { EntityService } from "@callassistant/protocol";
import { ModuleService } from "@callassistant/protocol";
import { HealthState } from "@callassistant/protocol";
import { Code, RpcError } from "@callassistant/rpc";
import { createClient } from "@callassistant/rpc";
import { SDK_VERSION } from "@callassistant/sdk";
import { FIXTURES_DIR, startModule } from "./module_harness.ts";

function startFixture() {
  return startModule({
    cwd: FIXTURES_DIR,
    script: "config_module.ts",
    env: { MODULE_NAME: "fixture-from-env" },
  });
}

Deno.test("sdk: RegisterModule answers from the definition; the name defaults to MODULE_NAME", async () => {
  const proc = await startFixture();
  const module = createClient(ModuleService, `127.0.0.1:${proc.port}`);
  try {
    const res = await module.registerModule({ moduleId: "m1" }, { timeoutMs: 5000 });
    assert.equal(res.info?.name, "fixture-from-env");
    assert.equal(res.info?.version, "1.2.3");
    assert.equal(res.info?.description, "SDK test fixture");
    assert.equal(res.info?.sdk, SDK_VERSION);
    assert.equal(res.requiresConfig, true);
    assert.deepEqual(res.configSchema, {
      type: "object",
      properties: { greeting: { type: "string" } },
    });
    assert.deepEqual(res.capabilities, []);
  } finally {
    module.close();
    await proc.stop();
  }
});

Deno.test("sdk: health waits for configuration, Configure validates, setHealth overrides", async () => {
  const proc = await startFixture();
  const module = createClient(ModuleService, `127.0.0.1:${proc.port}`);
  const state = async () => {
    const res = await module.healthCheck({}, { timeoutMs: 5000 });
    return [HealthState[res.state], res.message];
  };
  try {
    assert.deepEqual(await state(), ["WAITING_FOR_CONFIG", "waiting for configuration"]);

    // Rejected by onConfigure: INVALID_ARGUMENT, and still waiting.
    await assert.rejects(
      module.configure({ config: { greeting: 5 }, revision: 1n }),
      (err: unknown) =>
        err instanceof RpcError && err.code === Code.INVALID_ARGUMENT &&
        /greeting: expected a string/.test(err.message),
    );
    assert.deepEqual(await state(), ["WAITING_FOR_CONFIG", "waiting for configuration"]);

    const ok = await module.configure({ config: { greeting: "hello" }, revision: 2n });
    assert.equal(HealthState[ok.state], "READY");
    assert.deepEqual(await state(), ["READY", ""]);
    await proc.waitForLine("configured revision 2: hello");

    const degraded = await module.configure({
      config: { greeting: "hi", degraded: "camera offline" },
      revision: 3n,
    });
    assert.equal(HealthState[degraded.state], "DEGRADED");
    assert.deepEqual(await state(), ["DEGRADED", "camera offline"]);

    await module.configure({ config: { greeting: "back" }, revision: 4n });
    assert.deepEqual(await state(), ["READY", ""]);
  } finally {
    module.close();
    await proc.stop();
  }
});

Deno.test("sdk: no entity call before Configure; a crashing handler answers INTERNAL and the module keeps serving", async () => {
  const proc = await startFixture();
  const entity = createClient(EntityService, `127.0.0.1:${proc.port}`);
  const module = createClient(ModuleService, `127.0.0.1:${proc.port}`);
  try {
    // The module requires its configuration: until it has one, entity calls are refused.
    await assert.rejects(
      entity.listEntities({}),
      (err: unknown) =>
        err instanceof RpcError && err.code === Code.FAILED_PRECONDITION &&
        err.message.includes(
          'module "fixture-from-env" is waiting for its configuration: configure it first ' +
            "(PUT /v1/modules/fixture-from-env/config)",
        ),
    );
    await module.configure({ config: { greeting: "hello" }, revision: 1n });
    await assert.rejects(
      entity.createEntity({ entityId: "e1", entityType: "t" }),
      (err: unknown) =>
        err instanceof RpcError && err.code === Code.INTERNAL && err.message === "boom",
    );
    await proc.waitForLine("internal error in callassistant.v1.EntityService/CreateEntity");
    assert.deepEqual((await entity.listEntities({}, { timeoutMs: 5000 })).entities, []);
    // Methods without a handler are UNIMPLEMENTED.
    await assert.rejects(
      entity.getEntityStatus({ entityId: "e1" }),
      (err: unknown) => err instanceof RpcError && err.code === Code.UNIMPLEMENTED,
    );
    assert.equal(proc.exitStatus, undefined);
  } finally {
    entity.close();
    module.close();
    await proc.stop();
  }
});
