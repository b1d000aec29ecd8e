/**
 * The orchestrator's gRPC server: EventService for modules, ControlService and
 * ConfigService for clients, grpc.health.v1.Health, and reflection v1 and v1alpha.
 */
import type { DescService } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { Health } from "../gen/grpc/health/v1/health_pb.ts";
import type { Logger } from "../log/logger.ts";
import { Code, RpcError } from "../rpc/errors.ts";
import { bearerToken, createAuthenticator } from "../security/auth.ts";
import { addService, stopServer } from "../rpc/grpc_server.ts";
import { healthService } from "./health.ts";
import { addReflection } from "./reflection.ts";

/** A service and its transport-agnostic implementation. */
export interface HostedService {
  service: DescService;
  impl: object;
  /**
   * Whether calls need `authorization: Bearer <token>` metadata when the server has a
   * token (ControlService, ConfigService); modules' EventService checks its own tokens.
   */
  requiresAuth?: boolean;
}

/** Thrown when the listener cannot bind; the message is one clear line. */
export class ListenError extends Error {}

/** Starts a gRPC server on `host:port` hosting `services`; resolves with the bound port. */
export async function startGrpcServer(
  host: string,
  port: number,
  services: HostedService[],
  logger: Logger,
  /** Told when each call ends ("package.Service/Method", code, seconds), for metrics. */
  onCallEnd?: (method: string, code: Code, seconds: number) => void,
  /**
   * With a token, the services marked `requiresAuth` answer UNAUTHENTICATED to calls without
   * `authorization: Bearer <token>` metadata; health and reflection stay open.
   */
  auth?: { token: string },
): Promise<{ server: grpc.Server; port: number }> {
  // grpc-js writes its own errors to the console; route them to our log at debug level.
  grpc.setLogger({
    error: (...args: unknown[]) => logger.debug("grpc-js", { detail: args.join(" ") }),
  } as Partial<Console>);
  const server = new grpc.Server({ "grpc.max_receive_message_length": 4 * 1024 * 1024 });
  const onInternalError = (method: string, err: unknown) =>
    logger.error("handler failed", { method, error: String((err as Error)?.stack ?? err) });
  const authenticator = auth && createAuthenticator(auth.token);
  const authorize = authenticator &&
    ((headers: Headers) => {
      const given = headers.get("authorization");
      if (given === null) {
        throw new RpcError(
          Code.UNAUTHENTICATED,
          "authentication required: send the metadata authorization: Bearer <token>",
        );
      }
      if (!authenticator.checkToken(bearerToken(given))) {
        throw new RpcError(Code.UNAUTHENTICATED, "invalid credentials: the token is wrong");
      }
    });
  for (const { service, impl, requiresAuth } of services) {
    addService(server, service, impl, {
      onInternalError,
      onCallEnd,
      authorize: requiresAuth ? authorize : undefined,
    });
  }
  const names = services.map((s) => s.service.typeName);
  addService(server, Health, healthService(names));
  addReflection(server, [...names, Health.typeName]);
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(
      `${host.includes(":") ? `[${host}]` : host}:${port}`,
      grpc.ServerCredentials.createInsecure(),
      (err, p) => {
        if (!err) return resolve(p);
        const reason = /EADDRINUSE/.test(err.message)
          ? "address already in use"
          : err.message.split("\n")[0];
        reject(new ListenError(`cannot listen for gRPC on ${host}:${port}: ${reason}`));
      },
    )
  );
  return { server, port: bound };
}

/** Stops accepting calls, waits up to `timeoutMs` for running ones, then forces. */
export function stopGrpcServer(server: grpc.Server, timeoutMs = 2_000): Promise<void> {
  return stopServer(server, timeoutMs);
}
