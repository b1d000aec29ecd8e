/**
 * The orchestrator's gRPC server with real clients: reflection v1 and v1alpha through a
 * client that is not our code and every query kind through our own, standard health checks, EventService authentication,
 * UNIMPLEMENTED for later RPCs, and the Deno 2.9.4 regression (1,000 calls, close, still up).
 */
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { GrpcReflection } from "grpc-js-reflection-client";
import { ControlService } from "@callassistant/protocol";
import { EventService } from "@callassistant/protocol";
import { Health, HealthCheckResponse_ServingStatus } from "@callassistant/protocol/grpc/health/v1";
import { ModuleState } from "@callassistant/protocol";
import {
  ServerReflection,
  type ServerReflectionRequestSchema,
} from "@callassistant/protocol/grpc/reflection/v1";
import { fromBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { createClient } from "@callassistant/rpc";
import { Code, type RpcError } from "@callassistant/rpc";
import { addCamera, isAlive, startOrchestrator, waitFor } from "../helpers/test_orchestrator.ts";

const SERVICES = [
  "callassistant.v1.ConfigService",
  "callassistant.v1.ControlService",
  "callassistant.v1.EventService",
  "grpc.health.v1.Health",
];

async function withOrchestrator(fn: (grpcAddress: string, url: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  await addCamera(dir);
  const orch = await startOrchestrator({ modules: dir });
  try {
    await fn(orch.grpcAddress, orch.url);
  } finally {
    await orch.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

async function rejectsWith(p: Promise<unknown>, code: Code, message?: RegExp) {
  await assert.rejects(p, (err: RpcError) => {
    assert.equal(err.code, code, `code ${Code[err.code]}: ${err.message}`);
    if (message) assert.match(err.message, message);
    return true;
  });
}

Deno.test("gRPC: reflection, health, auth, unimplemented and 1,000 calls", async (t) => {
  await withOrchestrator(async (address) => {
    const control = createClient(ControlService, address);
    try {
      await waitFor(
        async () => {
          const { modules } = await control.listModules({});
          return modules.find((m) => m.name === "test-camera")?.state === ModuleState.READY;
        },
        30_000,
        "camera READY",
      );

      for (const version of ["v1", "v1alpha"]) {
        await t.step(`reflection ${version} lists the services and describes them`, async () => {
          const reflection = new GrpcReflection(
            address,
            grpc.credentials.createInsecure(),
            {},
            version,
          );
          const services = await reflection.listServices();
          for (const s of SERVICES) assert.ok(services.includes(s), `${s} in ${services}`);
          // A client built only from reflected descriptors can call the API.
          const descriptor = await reflection.getDescriptorBySymbol(
            "callassistant.v1.ControlService",
          );
          // deno-lint-ignore no-explicit-any
          const pkg = descriptor.getPackageObject({ keepCase: false, enums: String }) as any;
          const Client = pkg.callassistant.v1.ControlService as typeof grpc.Client;
          const dynamic = new Client(address, grpc.credentials.createInsecure());
          const reply = await new Promise<{ modules: { name: string; state: string }[] }>((
            ok,
            fail,
          ) =>
            // deno-lint-ignore no-explicit-any
            (dynamic as any).listModules({}, (err: Error, res: any) => err ? fail(err) : ok(res))
          );
          dynamic.close();
          assert.deepEqual(reply.modules.map((m) => [m.name, m.state]), [[
            "test-camera",
            "MODULE_STATE_READY",
          ]]);
        });
      }

      await t.step(
        "reflection answers every query kind on one stream; unknown names are NOT_FOUND",
        async () => {
          const reflection = createClient(ServerReflection, address);
          try {
            const queries: MessageInitShape<
              typeof ServerReflectionRequestSchema
            >["messageRequest"][] = [
              { case: "listServices", value: "" },
              {
                case: "fileContainingSymbol",
                value: "callassistant.v1.ControlService.ListModules",
              },
              { case: "fileByFilename", value: "callassistant/v1/event.proto" },
              {
                case: "fileContainingExtension",
                value: {
                  containingType: "google.protobuf.MethodOptions",
                  extensionNumber: 72295728,
                },
              },
              { case: "allExtensionNumbersOfType", value: "google.protobuf.MethodOptions" },
              { case: "fileContainingSymbol", value: "callassistant.v1.NoSuchThing" },
              { case: "fileByFilename", value: "nope.proto" },
              {
                case: "fileContainingExtension",
                value: { containingType: "google.protobuf.MethodOptions", extensionNumber: 1 },
              },
              { case: undefined },
            ];
            const requests = async function* () {
              for (const messageRequest of queries) yield { messageRequest };
            };
            const answers = [];
            for await (const a of reflection.serverReflectionInfo(requests())) answers.push(a);
            assert.equal(answers.length, queries.length);
            const [list, symbol, byName, extension, numbers, ...bad] = answers.map((a) =>
              a.messageResponse
            );
            // Exactly the hosted services, not the module-side ones of the same protos.
            assert.equal(list.case, "listServicesResponse");
            assert.deepEqual(
              list.value.service.map((s) => s.name).sort(),
              [
                ...SERVICES,
                "grpc.reflection.v1.ServerReflection",
                "grpc.reflection.v1alpha.ServerReflection",
              ].sort(),
            );
            // A file comes with its dependencies, each decodable, first the one asked for.
            const names = (r: typeof symbol) => {
              assert.equal(r.case, "fileDescriptorResponse");
              return r.value.fileDescriptorProto.map((b) =>
                fromBinary(FileDescriptorProtoSchema, b).name
              );
            };
            const controlFiles = names(symbol);
            assert.equal(controlFiles[0], "callassistant/v1/control.proto");
            for (
              const dep of ["google/api/annotations.proto", "google/protobuf/descriptor.proto"]
            ) {
              assert.ok(controlFiles.includes(dep), `${dep} in ${controlFiles}`);
            }
            assert.equal(new Set(controlFiles).size, controlFiles.length);
            assert.equal(names(byName)[0], "callassistant/v1/event.proto");
            assert.equal(names(extension)[0], "google/api/annotations.proto");
            assert.equal(numbers.case, "allExtensionNumbersResponse");
            assert.deepEqual(numbers.value.extensionNumber, [72295728]);
            const errors = bad.map((r) => {
              assert.equal(r.case, "errorResponse");
              return [r.value.errorCode, r.value.errorMessage];
            });
            assert.deepEqual(errors, [
              [Code.NOT_FOUND, 'symbol "callassistant.v1.NoSuchThing" not found'],
              [Code.NOT_FOUND, 'file "nope.proto" not found'],
              [Code.NOT_FOUND, 'extension 1 of "google.protobuf.MethodOptions" not found'],
              [Code.INVALID_ARGUMENT, "the request names no reflection query"],
            ]);
          } finally {
            reflection.close();
          }
        },
      );

      await t.step("grpc.health.v1 answers SERVING, NOT_FOUND for unknown services", async () => {
        const health = createClient(Health, address);
        try {
          assert.equal((await health.check({})).status, HealthCheckResponse_ServingStatus.SERVING);
          assert.equal(
            (await health.check({ service: "callassistant.v1.ControlService" })).status,
            HealthCheckResponse_ServingStatus.SERVING,
          );
          await rejectsWith(health.check({ service: "nope.Service" }), Code.NOT_FOUND);
        } finally {
          health.close();
        }
      });

      await t.step(
        "EventService: no token UNAUTHENTICATED, unknown token PERMISSION_DENIED",
        async () => {
          const events = createClient(EventService, address);
          try {
            await rejectsWith(
              events.reportEvent({ type: "x" }),
              Code.UNAUTHENTICATED,
              /MODULE_TOKEN/,
            );
            await rejectsWith(
              events.reportEvent({ type: "x" }, {
                headers: { authorization: "Bearer not-a-token" },
              }),
              Code.PERMISSION_DENIED,
            );
          } finally {
            events.close();
          }
        },
      );

      await t.step("FindPath over gRPC: unknown entities are NOT_FOUND", async () => {
        await rejectsWith(
          control.findPath({ sourceEntityId: "a", targetEntityId: "b" }),
          Code.NOT_FOUND,
          /entity "a" not found/,
        );
      });

      await t.step("a client makes 1,000 calls and closes; the server still answers", async () => {
        const busy = createClient(ControlService, address);
        for (let i = 0; i < 1000; i++) await busy.getSystemStatus({});
        busy.close();
        const fresh = createClient(ControlService, address);
        try {
          // Calls keep working for a while after the close (the abort came a little later).
          for (let i = 0; i < 50; i++) await fresh.getSystemStatus({});
          const status = await fresh.getSystemStatus({});
          assert.equal(status.moduleCount, 1);
        } finally {
          fresh.close();
        }
      });
    } finally {
      control.close();
    }
  });
});

Deno.test("gRPC: the orchestrator keeps serving after SDK module traffic and exits cleanly", async () => {
  await withOrchestrator(async (address, url) => {
    const control = createClient(ControlService, address);
    try {
      const camera = await waitFor(async () => {
        const { modules } = await control.listModules({});
        const m = modules.find((m) => m.name === "test-camera");
        return m?.state === ModuleState.READY ? m : undefined;
      });
      assert.ok(isAlive(camera.pid));
      const res = await fetch(`${url}/v1/status`);
      const status = await res.json();
      assert.equal(status.moduleCount, 1);
      assert.equal(status.ready, true);
      assert.match(status.runtime, /^deno 2\.9\.3$/);
    } finally {
      control.close();
    }
  });
});
