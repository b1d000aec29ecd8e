/**
 * Requests that are not the protobuf the method expects get INVALID_ARGUMENT, not
 * INTERNAL (grpc-js answers INTERNAL when a deserializer throws): unary, server-streaming
 * and bidi calls of the real orchestrator, sent as random bytes by a raw grpc-js client.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import * as grpc from "@grpc/grpc-js";
import { fromBinary } from "@bufbuild/protobuf";
import { GetModuleRequestSchema, WatchEventsRequestSchema } from "@callassistant/protocol";
import { ServerReflectionRequestSchema } from "@callassistant/protocol/grpc/reflection/v1";
import { Code } from "@callassistant/rpc";
import { addCamera, startOrchestrator } from "../helpers/test_orchestrator.ts";

/** Random buffers that really do not decode as `schema` (some random bytes would). */
function garbage(schema: Parameters<typeof fromBinary>[0], count: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; out.length < count && i < 10_000; i++) {
    const bytes = crypto.getRandomValues(new Uint8Array(8 + (i % 64)));
    try {
      fromBinary(schema, bytes);
    } catch {
      out.push(Buffer.from(bytes));
    }
  }
  assert.equal(out.length, count);
  return out;
}

const raw = (b: Buffer) => b;

function unary(client: grpc.Client, path: string, body: Buffer): Promise<grpc.ServiceError> {
  return new Promise((resolve, reject) =>
    client.makeUnaryRequest(path, raw, raw, body, (err) => {
      if (err) resolve(err);
      else reject(new Error(`${path} accepted garbage`));
    })
  );
}

function serverStream(client: grpc.Client, path: string, body: Buffer) {
  return new Promise<grpc.ServiceError>((resolve, reject) => {
    const call = client.makeServerStreamRequest(path, raw, raw, body);
    call.on("data", () => {});
    call.on("error", (err: grpc.ServiceError) => resolve(err));
    call.on("end", () => reject(new Error(`${path} accepted garbage`)));
  });
}

function bidi(client: grpc.Client, path: string, bodies: Buffer[]) {
  return new Promise<grpc.ServiceError>((resolve, reject) => {
    const call = client.makeBidiStreamRequest(path, raw, raw);
    call.on("data", () => {});
    call.on("error", (err: grpc.ServiceError) => resolve(err));
    call.on("end", () => reject(new Error(`${path} accepted garbage`)));
    for (const b of bodies) call.write(b);
  });
}

Deno.test("gRPC: undecodable requests are INVALID_ARGUMENT and the server goes on", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  await addCamera(dir);
  const orch = await startOrchestrator({ modules: dir });
  const client = new grpc.Client(orch.grpcAddress, grpc.credentials.createInsecure(), {
    "grpc.per_rpc_retry_buffer_size": 0,
  });
  try {
    for (const body of garbage(GetModuleRequestSchema, 20)) {
      const err = await unary(client, "/callassistant.v1.ControlService/GetModule", body);
      assert.equal(err.code, Code.INVALID_ARGUMENT, err.details);
      assert.match(err.details, /cannot decode callassistant\.v1\.GetModuleRequest/);
    }
    const [watch] = garbage(WatchEventsRequestSchema, 1);
    const streamErr = await serverStream(
      client,
      "/callassistant.v1.ControlService/WatchEvents",
      watch,
    );
    assert.equal(streamErr.code, Code.INVALID_ARGUMENT, streamErr.details);
    // A bidi stream that reads its requests (reflection needs no credentials).
    const bidiErr = await bidi(
      client,
      "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
      garbage(ServerReflectionRequestSchema, 3),
    );
    assert.equal(bidiErr.code, Code.INVALID_ARGUMENT, bidiErr.details);
    // Still serving well-formed calls.
    const ok = await new Promise<Buffer>((resolve, reject) =>
      client.makeUnaryRequest(
        "/callassistant.v1.ControlService/ListModules",
        raw,
        raw,
        Buffer.alloc(0),
        (err, res) => err ? reject(err) : resolve(res as Buffer),
      )
    );
    assert.ok(ok.length > 0);
  } finally {
    client.close();
    await orch.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
