/**
 * gRPC server reflection (v1 and v1alpha) from the embedded descriptor set, so grpcurl,
 * grpcui and Postman work without .proto files.
 */
import type * as grpc from "@grpc/grpc-js";
import { loadFileDescriptorSetFromBuffer } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import { Buffer } from "node:buffer";
import { DESCRIPTOR_SET_BASE64 } from "../gen/descriptor_set.ts";

/** Adds both reflection services to `server`. */
export function addReflection(server: grpc.Server): void {
  const set = Buffer.from(DESCRIPTOR_SET_BASE64, "base64");
  const definition = loadFileDescriptorSetFromBuffer(set, { keepCase: true });
  new ReflectionService(definition).addToServer(server);
}
