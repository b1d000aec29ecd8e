/**
 * The orchestrator's gRPC server: EventService for modules, ControlService and
 * ConfigService for clients, grpc.health.v1.Health, and reflection v1 and v1alpha.
 */
import { statusDetailsBin } from "../api_conventions/error_details.ts";
import type { DescService } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { Health } from "@callassistant/protocol/grpc/health/v1";
import type { Logger } from "../log/logger.ts";
import { Code, RpcError } from "@callassistant/rpc";
import { bearerToken, createAuthenticator } from "../security/auth.ts";
import { addService, type CallContext, stopServer } from "@callassistant/rpc";
import { HostPolicy } from "../security/hosts.ts";
import { hostPort } from "@callassistant/rpc";
import { healthService } from "./health.ts";
import { addReflection } from "./reflection.ts";
import { startTlsTerminator, type TlsFiles, type TlsTerminator } from "@callassistant/rpc";

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

/** A running gRPC server. */
export interface GrpcListener {
  readonly server: grpc.Server;
  /** The port clients connect to (TLS when the server has a certificate). */
  readonly port: number;
  /**
   * Where local module processes reach it: `port` on the listen host, or with TLS the
   * plaintext server behind the terminator, on 127.0.0.1.
   */
  readonly localAddress: string;
  /** Stops accepting calls, waits up to `timeoutMs` for running ones, then forces. */
  stop(timeoutMs?: number): Promise<void>;
}

/** Options of {@link startGrpcServer}. */
export interface GrpcServerOptions {
  host: string;
  /** 0 for a free port. */
  port: number;
  services: HostedService[];
  logger: Logger;
  /** Told when each call ends ("package.Service/Method", code, seconds), for metrics. */
  onCallEnd?: (method: string, code: Code, seconds: number) => void;
  /**
   * With a token, the services marked `requiresAuth` answer UNAUTHENTICATED to calls without
   * `authorization: Bearer <token>` metadata; health and reflection stay open.
   */
  auth?: { token: string };
  tls?: TlsFiles;
  /**
   * The `:authority` names accepted (see src/security/hosts.ts), on every service; others
   * get PERMISSION_DENIED. Loopback names only by default.
   */
  hosts?: HostPolicy;
}

/**
 * Starts a gRPC server on `host:port` hosting `services`. With `tls`, the server itself
 * binds 127.0.0.1 on a free port and a TLS terminator takes `host:port`.
 */
export async function startGrpcServer(options: GrpcServerOptions): Promise<GrpcListener> {
  const { host, port, services, logger, onCallEnd, auth, tls } = options;
  const hosts = options.hosts ?? new HostPolicy();
  // grpc-js writes its own errors to the console; route them to our log at debug level.
  grpc.setLogger({
    error: (...args: unknown[]) => logger.debug("grpc-js", { detail: args.join(" ") }),
  } as Partial<Console>);
  const server = new grpc.Server({ "grpc.max_receive_message_length": 4 * 1024 * 1024 });
  const onInternalError = (method: string, err: unknown) =>
    logger.error("handler failed", { method, error: String((err as Error)?.stack ?? err) });
  const authenticator = auth && createAuthenticator(auth.token);
  const admit = (ctx: CallContext) => {
    const problem = hosts.hostProblem(ctx.authority);
    if (problem) throw new RpcError(Code.PERMISSION_DENIED, problem);
  };
  const checkToken = authenticator &&
    ((ctx: CallContext) => {
      const given = ctx.headers.get("authorization");
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
      statusDetails: statusDetailsBin,
      authorize: (ctx) => {
        admit(ctx);
        if (requiresAuth) checkToken?.(ctx);
      },
    });
  }
  const names = services.map((s) => s.service.typeName);
  addService(server, Health, healthService(names), { authorize: admit });
  addReflection(server, [...names, Health.typeName], { authorize: admit });
  const bindHost = tls ? "127.0.0.1" : host;
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(
      hostPort(bindHost, tls ? 0 : port),
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
  let terminator: TlsTerminator | undefined;
  if (tls) {
    try {
      terminator = startTlsTerminator({ host, port, tls, targetPort: bound });
    } catch (err) {
      server.forceShutdown();
      const message = (err as Error).message;
      const reason = err instanceof Deno.errors.AddrInUse
        ? "address already in use"
        : /KeyMismatch/.test(message)
        ? "the certificate and the key do not match (--tls-cert, --tls-key)"
        : message;
      throw new ListenError(`cannot listen for gRPC (TLS) on ${host}:${port}: ${reason}`);
    }
  }
  const localHost = tls || host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
  return {
    server,
    port: terminator?.port ?? bound,
    localAddress: hostPort(localHost, bound),
    async stop(timeoutMs = 2_000) {
      terminator?.close();
      await stopServer(server, timeoutMs);
    },
  };
}
