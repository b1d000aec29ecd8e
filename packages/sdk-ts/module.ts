/**
 * `serveModule`: runs a module process from a definition. Serves ModuleService,
 * EntityService and PipelineService on 127.0.0.1:GRPC_PORT with defaults for the
 * ModuleService methods, exits when standard input ends, and stops gracefully on
 * SIGTERM/SIGINT or the Shutdown RPC.
 */
import type { JsonObject, MessageInitShape } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import type { EntityCapabilitySchema } from "@callassistant/protocol";
import { EntityService } from "@callassistant/protocol";
import { ModuleService } from "@callassistant/protocol";
import { PipelineService } from "@callassistant/protocol";
import { HealthState } from "@callassistant/protocol";
import { addService, Code, RpcError, stopServer } from "@callassistant/rpc";
import type { ServiceImpl } from "@callassistant/rpc";
import { type EnvSource, type ModuleEnv, ModuleEnvError, readModuleEnv } from "./env.ts";
import { type CommandHandler, ConnectReportTransport } from "./connect_transport.ts";
import { EventReporter } from "./events.ts";
import { isLogLevel, ModuleLogger } from "./log.ts";
import { onStopSignals, readStdinToken, watchStdin } from "./process.ts";
import { startTlsTerminator, type TlsTerminator } from "@callassistant/rpc";
import { readPem } from "@callassistant/rpc";
import { hostPort } from "@callassistant/rpc";

/** The SDK name and version sent in `ModuleInfo.sdk`. */
export const SDK_VERSION = "callassistant-sdk-ts/0.1.0";

/** An entity type the module declares in RegisterModule. */
export type EntityCapabilityInit = MessageInitShape<typeof EntityCapabilitySchema>;

/** Handlers of ModuleService; the ones given replace the SDK's defaults. */
export type ModuleHandlers = Partial<ServiceImpl<typeof ModuleService>>;
/** Handlers of EntityService; missing ones answer UNIMPLEMENTED. */
export type EntityHandlers = Partial<ServiceImpl<typeof EntityService>>;
/** Handlers of PipelineService; missing ones answer UNIMPLEMENTED. */
export type PipelineHandlers = Partial<ServiceImpl<typeof PipelineService>>;

/** The module's health as HealthCheck reports it. */
export interface Health {
  state: HealthState;
  message: string;
}

/** What `onConfigure` gets besides the configuration. */
export interface ConfigureContext {
  /** The revision of the stored configuration. */
  revision: bigint;
  /** The running module. */
  module: ModuleHandle;
}

/** Everything a module is: who it is, what it offers, and its handlers. */
export interface ModuleDefinition {
  /** Name (defaults to `MODULE_NAME`), version and description. */
  info: { name?: string; version: string; description: string };
  /** The entity types the module can create or discover. */
  capabilities: EntityCapabilityInit[];
  /** JSON Schema (draft 2020-12) of the module configuration. */
  configSchema?: JsonObject;
  /** True when the module cannot work before it gets a configuration. */
  requiresConfig?: boolean;
  /**
   * Called by the default Configure with the new configuration. Throw an
   * `RpcError(Code.INVALID_ARGUMENT, ...)` to reject it (the previous one is kept).
   */
  onConfigure?: (config: JsonObject, ctx: ConfigureContext) => void | Promise<void>;
  /** Called once when the module stops (Shutdown, signal, end of stdin), after the server. */
  onShutdown?: (reason: string) => void | Promise<void>;
  /**
   * Carries out the orchestrator's `drain` command: finish the flows, take no new ones.
   * Without it the command answers "not supported".
   */
  onDrain?: () => void | Promise<void>;
  /**
   * Carries out the orchestrator's `reload` command: reload the configuration, rescan.
   * Without it the command answers "not supported".
   */
  onReload?: () => void | Promise<void>;
  /** ModuleService handlers replacing the defaults. */
  module?: ModuleHandlers;
  /** EntityService handlers. */
  entity?: EntityHandlers;
  /** PipelineService handlers. */
  pipeline?: PipelineHandlers;
}

/** How `serveModule` runs. */
export interface ServeOptions {
  /** Where the environment is read (default `Deno.env`). */
  env?: EnvSource;
  /**
   * True (the default) when the SDK owns the process: it exits with code 2 on a bad
   * environment, 1 when it cannot listen, on end of stdin, on SIGTERM/SIGINT and after
   * Shutdown. False (in-process tests) throws instead and never exits.
   */
  ownProcess?: boolean;
  /** Time allowed for a graceful stop on a signal or end of stdin (default 5000 ms). */
  stopTimeoutMs?: number;
  /** Where the SDK logs (default: a line on stderr). */
  log?: (line: string) => void;
  /**
   * How reports reach the orchestrator: "connect" (the default) keeps one EventService
   * `Connect` stream (acks, resend after reconnect, heartbeats, commands); "unary" sends
   * one call per report.
   */
  reportTransport?: "connect" | "unary";
}

/** A running module. */
export interface ModuleHandle {
  /** The port the server listens on, on 127.0.0.1. */
  readonly port: number;
  /** The environment the module was started with. */
  readonly env: ModuleEnv;
  /** Reports events, status and metrics to the orchestrator. */
  readonly events: EventReporter;
  /**
   * The module's log (lines on stderr with `trace_id` inside calls from the
   * orchestrator); its level follows the orchestrator's `setLogLevel` command.
   */
  readonly logger: ModuleLogger;
  /** The latest accepted configuration, if any. */
  readonly config: JsonObject | undefined;
  /** The health HealthCheck reports now. */
  readonly health: Health;
  /**
   * Sets the state HealthCheck reports (e.g. DEGRADED with a reason). `undefined`
   * returns to the automatic state: WAITING_FOR_CONFIG while a required configuration
   * is missing, READY otherwise.
   */
  setHealth(state: HealthState | undefined, message?: string): void;
  /** Resolves once the module has stopped serving. */
  readonly closed: Promise<void>;
  /** Stops serving (graceful, then forced) and reporting. Does not exit the process. */
  close(): Promise<void>;
  /** Stops like `close`, runs `onShutdown`, then exits the process with `code`. */
  exit(code?: number, reason?: string): Promise<never>;
}

/** What a module's runtime is made of (`serve` builds them). */
interface RuntimeParts {
  env: ModuleEnv;
  events: EventReporter;
  logger: ModuleLogger;
  server: grpc.Server;
  definition: ModuleDefinition;
  options: Required<Pick<ServeOptions, "ownProcess" | "stopTimeoutMs" | "log">>;
}

class Runtime implements ModuleHandle {
  port = 0;
  /** The TLS terminator in front of the server, when serving TLS. */
  terminator?: TlsTerminator;
  config: JsonObject | undefined;
  readonly closed: Promise<void>;
  #explicitHealth: Health | undefined;
  #resolveClosed!: () => void;
  #stopping: Promise<void> | undefined;
  #removeSignals: (() => void) | undefined;

  readonly env: ModuleEnv;
  readonly events: EventReporter;
  readonly logger: ModuleLogger;
  readonly server: grpc.Server;
  readonly definition: ModuleDefinition;
  readonly options: RuntimeParts["options"];

  constructor(parts: RuntimeParts) {
    this.env = parts.env;
    this.events = parts.events;
    this.logger = parts.logger;
    this.server = parts.server;
    this.definition = parts.definition;
    this.options = parts.options;
    this.closed = new Promise((resolve) => this.#resolveClosed = resolve);
  }

  get health(): Health {
    if (this.#explicitHealth) return { ...this.#explicitHealth };
    if (this.definition.requiresConfig && this.config === undefined) {
      return { state: HealthState.WAITING_FOR_CONFIG, message: "waiting for configuration" };
    }
    return { state: HealthState.READY, message: "" };
  }

  setHealth(state: HealthState | undefined, message = ""): void {
    this.#explicitHealth = state === undefined ? undefined : { state, message };
  }

  set removeSignals(remove: () => void) {
    this.#removeSignals = remove;
  }

  /** Stops the server (graceful within `timeoutMs`, then forced), then `onShutdown`. */
  stop(reason: string, timeoutMs: number): Promise<void> {
    this.#stopping ??= (async () => {
      this.options.log(`INFO stopping: ${reason}`);
      this.terminator?.close();
      await stopServer(this.server, Math.max(50, timeoutMs / 2));
      try {
        await this.definition.onShutdown?.(reason);
      } catch (err) {
        this.options.log(`ERROR onShutdown failed: ${err instanceof Error ? err.stack : err}`);
      }
      await this.events.flush(Math.min(1000, Math.max(50, timeoutMs / 4)));
      this.events.close();
      this.#resolveClosed();
    })();
    return this.#stopping;
  }

  close(): Promise<void> {
    // Without the SDK's listeners a later signal has its default effect again.
    this.#removeSignals?.();
    return this.stop("closed by the module", this.options.stopTimeoutMs);
  }

  /** Stops and exits; a watchdog exits anyway when stopping takes longer than `timeoutMs`. */
  async exit(
    code = 0,
    reason = "exit requested by the module",
    timeoutMs?: number,
  ): Promise<never> {
    const budget = timeoutMs ?? this.options.stopTimeoutMs;
    const watchdog = setTimeout(() => {
      this.options.log(`WARN stop took longer than ${budget} ms: exiting now`);
      Deno.exit(code);
    }, budget);
    await this.stop(reason, budget);
    clearTimeout(watchdog);
    Deno.exit(code);
  }
}

function bind(server: grpc.Server, address: string): Promise<number> {
  return new Promise((resolve, reject) =>
    server.bindAsync(
      address,
      grpc.ServerCredentials.createInsecure(),
      (err, port) => err ? reject(err) : resolve(port),
    )
  );
}

/** Drops keys whose value is undefined, so they do not hide defaults in a spread. */
function defined<T extends object>(handlers: T | undefined): Partial<T> {
  return Object.fromEntries(
    Object.entries(handlers ?? {}).filter(([, handler]) => handler !== undefined),
  ) as Partial<T>;
}

/**
 * The handlers, answering FAILED_PRECONDITION while a module that requires its
 * configuration has none yet (the contract: no entity or flow before `Configure`).
 */
function afterConfig<T extends object>(rt: Runtime, handlers: Partial<T>): Partial<T> {
  if (!rt.definition.requiresConfig) return handlers;
  const guarded = Object.entries(handlers).map(([method, handler]) => [
    method,
    (...args: unknown[]) => {
      if (rt.config === undefined) {
        const name = rt.env.moduleName || "<name>";
        throw new RpcError(
          Code.FAILED_PRECONDITION,
          `module "${name}" is waiting for its configuration: configure it first ` +
            `(PUT /v1/modules/${name}/config)`,
        );
      }
      return (handler as (...a: unknown[]) => unknown)(...args);
    },
  ]);
  return Object.fromEntries(guarded) as Partial<T>;
}

function durationMs(duration: { seconds: bigint; nanos: number } | undefined): number | undefined {
  if (!duration) return undefined;
  const ms = Number(duration.seconds) * 1000 + Math.floor(duration.nanos / 1e6);
  return ms > 0 ? ms : undefined;
}

/** The default ModuleService of a definition. */
function defaultModuleHandlers(rt: Runtime): ServiceImpl<typeof ModuleService> {
  const def = rt.definition;
  return {
    registerModule: () => ({
      info: {
        name: def.info.name || rt.env.moduleName,
        version: def.info.version,
        description: def.info.description,
        sdk: SDK_VERSION,
      },
      capabilities: def.capabilities,
      configSchema: def.configSchema,
      requiresConfig: def.requiresConfig ?? false,
    }),
    healthCheck: () => rt.health,
    configure: async (request) => {
      const config = request.config ?? {};
      await def.onConfigure?.(config, { revision: request.revision, module: rt });
      rt.config = config;
      return rt.health;
    },
    shutdown: (request) => {
      const grace = durationMs(request.gracePeriod) ?? rt.options.stopTimeoutMs;
      // Leave time for the exit itself before the orchestrator's SIGTERM.
      const budget = Math.max(100, grace - 250);
      const reason = `Shutdown requested${request.reason ? `: ${request.reason}` : ""}`;
      // After this handler returns, so the answer goes out before the server stops.
      setTimeout(() => {
        if (rt.options.ownProcess) rt.exit(0, reason, budget);
        else rt.stop(reason, budget);
      }, 0);
      return {};
    },
  };
}

/**
 * Starts the module: reads the environment, serves the three services on
 * 127.0.0.1:GRPC_PORT (GRPC_HOST changes the address; GRPC_TLS_CERT and GRPC_TLS_KEY
 * serve TLS, for a remote module), logs "listening on HOST:PORT" to stderr, and resolves
 * to the running module. See `ServeOptions.ownProcess` for what it does to the process.
 */
export async function serveModule(
  definition: ModuleDefinition,
  options: ServeOptions = {},
): Promise<ModuleHandle> {
  const ownProcess = options.ownProcess ?? true;
  const log = options.log ?? ((line: string) => console.error(line));
  const stopTimeoutMs = options.stopTimeoutMs ?? 5000;

  let env: ModuleEnv;
  try {
    env = readModuleEnv(options.env);
  } catch (err) {
    if (ownProcess && err instanceof ModuleEnvError) {
      log(`error: ${err.message}`);
      Deno.exit(2);
    }
    throw err;
  }
  if (ownProcess && env.tokenFromStdin) {
    // The token comes on standard input; MODULE_TOKEN in the environment is the fallback.
    const token = await readStdinToken();
    if (token) env = { ...env, token };
    else log("warning: MODULE_TOKEN_STDIN=1 but no MODULE_TOKEN=<token> line on standard input");
  }

  const logger = new ModuleLogger(log);
  const onCommand: CommandHandler = async (command) => {
    const c = command.command;
    switch (c.case) {
      case "setLogLevel": {
        if (!isLogLevel(c.value.level)) {
          return { ok: false, message: `unknown log level "${c.value.level}"` };
        }
        logger.level = c.value.level;
        log(`INFO log level set to ${c.value.level}`);
        return { ok: true, message: `log level is ${c.value.level}` };
      }
      case "drain":
      case "reload": {
        const handler = c.case === "drain" ? definition.onDrain : definition.onReload;
        if (!handler) return { ok: false, message: `this module does not support ${c.case}` };
        await handler();
        return { ok: true, message: `${c.case} done` };
      }
      default:
        return { ok: false, message: "unknown command" };
    }
  };
  const connect = env.orchestratorAddress && (options.reportTransport ?? "connect") === "connect"
    ? new ConnectReportTransport({
      address: env.orchestratorAddress,
      token: env.token,
      log,
      onCommand,
    })
    : undefined;
  const events = new EventReporter({
    address: env.orchestratorAddress,
    token: env.token,
    log,
    transport: connect,
  });
  const server = new grpc.Server({ "grpc.max_receive_message_length": 16 * 1024 * 1024 });
  const rt = new Runtime({
    env,
    events,
    logger,
    server,
    definition,
    options: { ownProcess, stopTimeoutMs, log },
  });

  const onInternalError = (method: string, err: unknown) =>
    log(`ERROR internal error in ${method}: ${err instanceof Error ? err.stack : err}`);
  addService(
    server,
    ModuleService,
    { ...defaultModuleHandlers(rt), ...defined(definition.module) },
    onInternalError,
  );
  addService(server, EntityService, afterConfig(rt, defined(definition.entity)), onInternalError);
  addService(
    server,
    PipelineService,
    afterConfig(rt, defined(definition.pipeline)),
    onInternalError,
  );

  const tls = env.tlsCert !== "";
  const address = hostPort(env.grpcHost, env.grpcPort);
  try {
    if (tls) {
      // grpc-js's TLS server does not work on Deno: TLS is terminated in front of it.
      const files = {
        cert: readPem(env.tlsCert, "certificate"),
        key: readPem(env.tlsKey, "private key"),
      };
      const inner = await bind(server, "127.0.0.1:0");
      rt.terminator = startTlsTerminator({
        host: env.grpcHost,
        port: env.grpcPort,
        tls: files,
        targetPort: inner,
      });
      rt.port = rt.terminator.port;
    } else {
      rt.port = await bind(server, address);
    }
  } catch (err) {
    const message = `cannot listen on ${address}: ${err instanceof Error ? err.message : err}`;
    if (ownProcess) {
      log(`error: ${message}`);
      Deno.exit(1);
    }
    server.forceShutdown();
    throw new Error(message, { cause: err });
  }
  log(`INFO listening on ${hostPort(env.grpcHost, rt.port)}${tls ? " (TLS)" : ""}`);
  connect?.start();

  if (ownProcess) {
    watchStdin((reason) => rt.exit(0, reason, Math.min(stopTimeoutMs, 2000)));
    let signalled = false;
    rt.removeSignals = onStopSignals((signal) => {
      if (signalled) {
        log(`WARN ${signal} again: exiting now`);
        Deno.exit(1);
      }
      signalled = true;
      rt.exit(0, `received ${signal}`);
    });
  }
  return rt;
}
