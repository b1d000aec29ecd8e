/**
 * The orchestrator: wires the registry, event bus, supervisor, gRPC server and HTTP
 * gateway together, starts the modules, and shuts everything down in order.
 */
import type * as grpc from "@grpc/grpc-js";
import { ConfigService } from "./gen/callassistant/v1/config_pb.ts";
import { ControlService } from "./gen/callassistant/v1/control_pb.ts";
import { EventService } from "./gen/callassistant/v1/event_pb.ts";
import { moduleControl, systemReady } from "./control/modules.ts";
import { EventBus } from "./events/bus.ts";
import { eventService } from "./events/event_service.ts";
import { bindService, createGateway } from "./gateway/app.ts";
import type { Logger } from "./log/logger.ts";
import type { PartialServiceImpl } from "./rpc/handlers.ts";
import { discoverModules } from "./manifest/discover.ts";
import { ModuleRegistry } from "./registry/modules.ts";
import { ListenError, startGrpcServer, stopGrpcServer } from "./server/grpc_server.ts";
import { Supervisor } from "./supervisor/supervisor.ts";
import { PidRecords } from "./supervisor/pid_records.ts";
import { isEmptyPlan, watchManifests } from "./supervisor/reload.ts";
import { VERSION } from "./version.ts";

/** A host and port to listen on. */
export interface ListenAddress {
  host: string;
  port: number;
}

/** How to run the orchestrator. */
export interface OrchestratorOptions {
  modulesDir: string;
  dataDir: string;
  grpc: ListenAddress;
  http: ListenAddress;
  dev: boolean;
  logger: Logger;
}

/** A running orchestrator. */
export interface Orchestrator {
  registry: ModuleRegistry;
  bus: EventBus;
  supervisor: Supervisor;
  grpcAddress: string;
  httpAddress: string;
  /** Resolves when every module has been started or has given up. */
  started: Promise<void>;
  /** Stops the modules (dependents first), then the listeners. */
  stop(reason?: string): Promise<void>;
}

function hostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Starts listeners and modules; throws ListenError when a port cannot be bound. */
export async function startOrchestrator(options: OrchestratorOptions): Promise<Orchestrator> {
  const { logger } = options;
  const startedAt = new Date();
  const dataDir = await Deno.realPath(await ensureDir(options.dataDir));
  const modulesDir = options.modulesDir;
  // Module processes that survived an orchestrator killed with SIGKILL go first.
  const pids = new PidRecords(`${dataDir}/processes.json`);
  await pids.reapPrevious(logger);
  const bus = new EventBus();
  const registry = new ModuleRegistry(bus, logger);

  // Both listeners are bound before any module starts, so a busy port fails fast.
  let httpServer: Deno.HttpServer | undefined;
  const httpAbort = new AbortController();
  // Filled in once the listeners are bound; read by modules' environment and status.
  const addresses = { grpc: "", http: "" };
  const supervisor = new Supervisor({
    registry,
    bus,
    logger,
    get orchestratorAddress() {
      return addresses.grpc;
    },
    dataDir,
    dev: options.dev,
    version: VERSION,
    echoOutput: true,
    pids,
  });
  // ControlService is assembled from the handlers of each area.
  const control: PartialServiceImpl<typeof ControlService> = {
    ...moduleControl({
      registry,
      supervisor,
      version: VERSION,
      startedAt,
      addresses,
      modulesDir,
      dataDir,
    }),
  };
  const services = [
    { service: ControlService, impl: control },
    { service: ConfigService, impl: {} },
    { service: EventService, impl: eventService(registry, bus) },
  ];
  const { server, port: grpcPort } = await startGrpcServer(
    options.grpc.host,
    options.grpc.port,
    services,
    logger,
  );
  const grpcAddress = hostPort(options.grpc.host, grpcPort);
  addresses.grpc = grpcAddress;

  const app = createGateway({
    services: [bindService(ControlService, control), bindService(ConfigService, {})],
    isReady: () => systemReady(registry),
    onInternalError: (method, err) =>
      logger.error("handler failed", { method, error: String((err as Error)?.stack ?? err) }),
  });
  try {
    httpServer = Deno.serve({
      hostname: options.http.host,
      port: options.http.port,
      signal: httpAbort.signal,
      onListen: () => {},
    }, app.fetch);
  } catch (err) {
    await stopGrpcServer(server as grpc.Server, 0);
    throw new ListenError(
      `cannot listen for HTTP on ${hostPort(options.http.host, options.http.port)}: ${
        (err as Error).message
      }`,
    );
  }
  const httpAddress = hostPort(options.http.host, (httpServer.addr as Deno.NetAddr).port);
  addresses.http = httpAddress;
  logger.info("orchestrator listening", { version: VERSION, grpc: grpcAddress, http: httpAddress });

  const discovered = await discoverModules(modulesDir);
  logger.info("modules discovered", { dir: modulesDir, count: discovered.length });
  supervisor.load(discovered);
  const started = supervisor.startAll();

  // Hot reload: manifest changes are applied as a diff, one reload at a time.
  let reloading = Promise.resolve();
  const stopWatching = watchManifests(modulesDir, () => {
    reloading = reloading.then(async () => {
      const plan = await supervisor.reload(await discoverModules(modulesDir));
      if (!isEmptyPlan(plan)) logger.info("modules reloaded", { ...plan });
    }).catch((err) => logger.error("reload failed", { error: String(err) }));
  });

  let stopping: Promise<void> | undefined;
  return {
    registry,
    bus,
    supervisor,
    grpcAddress,
    httpAddress,
    started,
    stop(reason = "orchestrator shutting down") {
      stopping ??= (async () => {
        logger.info("stopping", { reason });
        stopWatching();
        await reloading;
        await supervisor.stopAll(reason);
        httpAbort.abort();
        await httpServer?.finished;
        await stopGrpcServer(server);
        logger.info("stopped");
      })();
      return stopping;
    },
  };
}

async function ensureDir(path: string): Promise<string> {
  await Deno.mkdir(path, { recursive: true });
  return path;
}
