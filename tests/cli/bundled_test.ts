/**
 * The program carries its protos in the module graph: a copy of the program without
 * `proto/` (and without tests or scripts) serves reflection, OpenAPI and modules.
 */
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { GrpcReflection } from "grpc-js-reflection-client";
import { ROOT, startOrchestrator, waitFor } from "../helpers/test_orchestrator.ts";

Deno.test("a copy without proto/ serves reflection, OpenAPI and an SDK module", async () => {
  const copy = await Deno.makeTempDir({ prefix: "ca-test-copy-" });
  try {
    for (const item of ["main.ts", "deno.json", "deno.lock", "src", "packages", "modules"]) {
      const out = await new Deno.Command("cp", { args: ["-r", `${ROOT}${item}`, `${copy}/`] })
        .output();
      assert.ok(out.success, `copy ${item}`);
    }
    await assert.rejects(Deno.stat(`${copy}/proto`));
    const modules = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
    await Deno.mkdir(`${modules}/cam`);
    await Deno.writeTextFile(
      `${modules}/cam/module.yaml`,
      `name: cam\ncommand: ["deno", "run", "--allow-all", "${copy}/modules/matrix-call/main.ts"]\n`,
    );
    const orch = await startOrchestrator({ modules, main: `${copy}/main.ts` });
    try {
      const reflection = new GrpcReflection(
        orch.grpcAddress,
        grpc.credentials.createInsecure(),
        {},
        "v1",
      );
      const services = await reflection.listServices();
      assert.ok(services.includes("callassistant.v1.ControlService"), String(services));
      const openapi = await (await fetch(`${orch.url}/openapi.json`)).json();
      assert.ok(openapi.paths["/v1/modules"], "OpenAPI has /v1/modules");
      await waitFor(
        async () => {
          const body = await (await fetch(`${orch.url}/v1/modules/cam`)).json();
          return body.module?.state === "MODULE_STATE_READY";
        },
        30_000,
        "cam READY",
      );
    } finally {
      await orch.stop();
      await Deno.remove(modules, { recursive: true });
    }
  } finally {
    await Deno.remove(copy, { recursive: true });
  }
});
