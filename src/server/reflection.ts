/**
 * gRPC server reflection (v1 and v1alpha) answered from the embedded descriptor set, so
 * grpcurl, grpcui and Postman work without .proto files. The descriptor set is decoded
 * on the first reflection request, never at start.
 */
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  type DescriptorProto,
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
} from "@bufbuild/protobuf/wkt";
import { base64Decode } from "@bufbuild/protobuf/wire";
import type * as grpc from "@grpc/grpc-js";
import { DESCRIPTOR_SET_BASE64 } from "@callassistant/protocol/descriptor-set";
import {
  ServerReflection,
  type ServerReflectionRequest,
  type ServerReflectionResponseSchema,
} from "@callassistant/protocol/grpc/reflection/v1";
import { ServerReflection as ServerReflectionV1Alpha } from "@callassistant/protocol/grpc/reflection/v1alpha";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code } from "@callassistant/rpc";
import { addService, type ServerHooks } from "@callassistant/rpc";
import type { ServiceImpl } from "@callassistant/rpc";

type Response = MessageInitShape<typeof ServerReflectionResponseSchema>;

/** The files of a descriptor set, indexed for reflection's lookups. */
export interface DescriptorIndex {
  /** Each file's encoded FileDescriptorProto by file name. */
  files: Map<string, Uint8Array>;
  /** Each file's direct dependencies by file name. */
  dependencies: Map<string, string[]>;
  /** The file defining each fully-qualified symbol (message, enum, service, method...). */
  fileOfSymbol: Map<string, string>;
  /** The file defining each extension, by "extendee/number" (extendee without a dot). */
  fileOfExtension: Map<string, string>;
  /** Extension numbers by extended type (without a leading dot). */
  extensionNumbers: Map<string, number[]>;
}

/** Indexes a base64 FileDescriptorSet by file name, symbol and extension. */
export function indexDescriptorSet(base64: string): DescriptorIndex {
  const set = fromBinary(FileDescriptorSetSchema, base64Decode(base64));
  const index: DescriptorIndex = {
    files: new Map(),
    dependencies: new Map(),
    fileOfSymbol: new Map(),
    fileOfExtension: new Map(),
    extensionNumbers: new Map(),
  };
  for (const file of set.file) {
    index.files.set(file.name, toBinary(FileDescriptorProtoSchema, file));
    index.dependencies.set(file.name, file.dependency);
    const prefix = file.package ? `${file.package}.` : "";
    const symbol = (name: string) => index.fileOfSymbol.set(name, file.name);
    if (file.package) symbol(file.package);
    const addMessage = (message: DescriptorProto, scope: string) => {
      const name = `${scope}${message.name}`;
      symbol(name);
      for (const field of message.field) symbol(`${name}.${field.name}`);
      for (const oneof of message.oneofDecl) symbol(`${name}.${oneof.name}`);
      for (const e of message.enumType) symbol(`${name}.${e.name}`);
      for (const nested of message.nestedType) addMessage(nested, `${name}.`);
      for (const ext of message.extension) symbol(`${name}.${ext.name}`);
    };
    for (const message of file.messageType) addMessage(message, prefix);
    for (const e of file.enumType) symbol(`${prefix}${e.name}`);
    for (const service of file.service) {
      symbol(`${prefix}${service.name}`);
      for (const method of service.method) symbol(`${prefix}${service.name}.${method.name}`);
    }
    const extensions = [
      ...file.extension,
      ...file.messageType.flatMap((m) => m.extension),
    ];
    for (const ext of file.extension) symbol(`${prefix}${ext.name}`);
    for (const ext of extensions) {
      const extendee = ext.extendee.replace(/^\./, "");
      index.fileOfExtension.set(`${extendee}/${ext.number}`, file.name);
      const numbers = index.extensionNumbers.get(extendee) ?? [];
      numbers.push(ext.number);
      index.extensionNumbers.set(extendee, numbers);
    }
  }
  return index;
}

/** The encoded file `name` followed by its transitive dependencies, each once. */
function fileWithDependencies(index: DescriptorIndex, name: string): Uint8Array[] {
  const seen = new Set<string>();
  const out: Uint8Array[] = [];
  const visit = (file: string) => {
    const bytes = index.files.get(file);
    if (seen.has(file) || !bytes) return;
    seen.add(file);
    out.push(bytes);
    for (const dep of index.dependencies.get(file) ?? []) visit(dep);
  };
  visit(name);
  return out;
}

/** Answers one reflection request; `services` are the services the server hosts. */
export function answerReflection(
  index: DescriptorIndex,
  services: string[],
  request: ServerReflectionRequest,
): Response {
  const error = (code: Code, message: string): Response => ({
    originalRequest: request,
    messageResponse: { case: "errorResponse", value: { errorCode: code, errorMessage: message } },
  });
  const files = (name: string | undefined, what: string): Response =>
    name === undefined ? error(Code.NOT_FOUND, `${what} not found`) : {
      originalRequest: request,
      messageResponse: {
        case: "fileDescriptorResponse",
        value: { fileDescriptorProto: fileWithDependencies(index, name) },
      },
    };
  const r = request.messageRequest;
  switch (r.case) {
    case "listServices":
      return {
        originalRequest: request,
        messageResponse: {
          case: "listServicesResponse",
          value: { service: services.map((name) => ({ name })) },
        },
      };
    case "fileByFilename":
      return files(index.files.has(r.value) ? r.value : undefined, `file "${r.value}"`);
    case "fileContainingSymbol":
      return files(index.fileOfSymbol.get(r.value), `symbol "${r.value}"`);
    case "fileContainingExtension": {
      const key = `${r.value.containingType}/${r.value.extensionNumber}`;
      return files(
        index.fileOfExtension.get(key),
        `extension ${r.value.extensionNumber} of "${r.value.containingType}"`,
      );
    }
    case "allExtensionNumbersOfType": {
      const numbers = index.extensionNumbers.get(r.value);
      if (!numbers && !index.fileOfSymbol.has(r.value)) {
        return error(Code.NOT_FOUND, `type "${r.value}" not found`);
      }
      return {
        originalRequest: request,
        messageResponse: {
          case: "allExtensionNumbersResponse",
          value: { baseTypeName: r.value, extensionNumber: numbers ?? [] },
        },
      };
    }
    default:
      return error(Code.INVALID_ARGUMENT, "the request names no reflection query");
  }
}

/** The reflection handlers for a server hosting `services` (full names). */
export function reflectionService(
  services: string[],
  descriptorSetBase64 = DESCRIPTOR_SET_BASE64,
): ServiceImpl<typeof ServerReflection> {
  let index: DescriptorIndex | undefined;
  return {
    async *serverReflectionInfo(requests) {
      for await (const request of requests) {
        index ??= indexDescriptorSet(descriptorSetBase64);
        yield answerReflection(index, services, request);
      }
    },
  };
}

/**
 * Adds reflection v1 and v1alpha to `server`, listing `services` and both reflections;
 * `hooks` apply to their calls.
 */
export function addReflection(
  server: grpc.Server,
  services: string[],
  hooks?: ServerHooks,
): void {
  const listed = [...services, ServerReflection.typeName, ServerReflectionV1Alpha.typeName];
  const impl = reflectionService(listed);
  addService(server, ServerReflection, impl, hooks);
  // v1alpha has the same messages, field for field: the same handlers serve it.
  addService(
    server,
    ServerReflectionV1Alpha,
    impl as unknown as ServiceImpl<typeof ServerReflectionV1Alpha>,
    hooks,
  );
}
