/**
 * The orchestrator: wires the registry, event bus, supervisor, gRPC server and HTTP
 * gateway together, starts the modules, and shuts everything down in order.
 */
import { ConfigService } from "@callassistant/protocol";
import { ControlService } from "@callassistant/protocol";
import { EventService } from "@callassistant/protocol";
import { FlowState } from "@callassistant/protocol";
import { entityControl } from "./control/entities.ts";
import { flowControl } from "./control/flows.ts";
import { eventControl } from "./control/events.ts";
import { moduleControl, systemReady } from "./control/modules.ts";
import { supervisorModules } from "./entities/modules.ts";
import { EventBus } from "./events/bus.ts";
import { createEventService, type Rate } from "./events/event_service.ts";
import { Metrics } from "./metrics/metrics.ts";
import { setModuleCallObserver } from "./supervisor/clients.ts";
import { bindService, createGateway } from "./gateway/app.ts";
import type { Logger } from "./log/logger.ts";
import type { PartialServiceImpl } from "@callassistant/rpc";
import { discoverModules } from "./manifest/discover.ts";
import { createPipeline, type Pipeline } from "./pipeline/mod.ts";
import { ModuleRegistry } from "./registry/modules.ts";
import { ListenError, startGrpcServer } from "./server/grpc_server.ts";
import { hostPort } from "@callassistant/rpc";
import { Health } from "@callassistant/protocol/grpc/health/v1";
import { createClient } from "@callassistant/rpc";
import type { TlsFiles } from "@callassistant/rpc";
import { Store } from "./store/store.ts";
import { ModuleConfigs } from "./config/config_service.ts";
import { Supervisor } from "./supervisor/supervisor.ts";
import { PidRecords } from "./supervisor/pid_records.ts";
import { pythonSdkDir } from "./supervisor/python_sdk.ts";
import { isEmptyPlan, watchManifests } from "./supervisor/reload.ts";
import { VERSION } from "./version.ts";
import type { Seed } from "./seed/seed_file.ts";
import { Seeder } from "./seed/seeder.ts";
import { dashboardRoutes, isDashboardAsset } from "./web/routes.ts";

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
  /** Events each module may report (flood control); default 100/s, bursts of 200. */
  eventRate?: Rate;
  /** Certificate and key (PEM): both listeners serve TLS (HTTPS and gRPC over TLS). */
  tls?: TlsFiles;
  /**
   * The bearer token both listeners require (SPEC §9; see src/security/auth.ts); without
   * it the control API is open.
   */
  auth?: { token: string };
  /** Entities and flows a fresh data directory starts with (`--seed`). */
  seed?: Seed;
}

/** A running orchestrator. */
export interface Orchestrator {
  registry: ModuleRegistry;
  bus: EventBus;
  supervisor: Supervisor;
  /** The embedded database in the data directory. */
  store: Store;
  /** Entities and flows (`pipeline.flows.onModuleStatus` takes ReportStatus). */
  pipeline: Pipeline;
  grpcAddress: string;
  httpAddress: string;
  /** Resolves when every module has been started or has given up. */
  started: Promise<void>;
  /** Stops the modules (dependents first), then the listeners. */
  stop(reason?: string): Promise<void>;
}

/** Makes one health call to `address` and forgets it (errors included). */
function warmUpGrpcClient(address: string): void {
  const health = createClient(Health, address);
  health.check({}, { timeoutMs: 2_000 }).catch(() => {}).finally(() => health.close());
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
  let pythonSdk: string | undefined;
  try {
    pythonSdk = await pythonSdkDir(dataDir);
  } catch (err) {
    logger.warn("cannot write the Python SDK for Python modules", {
      error: (err as Error).message,
    });
  }
  const bus = new EventBus();
  const registry = new ModuleRegistry(bus, logger);

  // Both listeners are bound before any module starts, so a busy port fails fast.
  let httpServer: Deno.HttpServer | undefined;
  const httpAbort = new AbortController();
  // Filled in once the listeners are bound; read by modules' environment and status.
  // `local` is where module processes on this machine reach the gRPC server.
  const addresses = { grpc: "", http: "", local: "" };
  const supervisor: Supervisor = new Supervisor({
    registry,
    bus,
    logger,
    get orchestratorAddress() {
      return addresses.local;
    },
    dataDir,
    dev: options.dev,
    version: VERSION,
    echoOutput: true,
    pythonSdkDir: pythonSdk,
    pids,
    onRegistered: (record, clients): Promise<void> => configs.apply(record, clients),
  });
  const store = Store.open(dataDir);
  const configs = new ModuleConfigs({
    store,
    registry,
    bus,
    logger,
    clientsOf: (name) => supervisor.clientsOf(name),
    refreshHealth: (name) => supervisor.refreshHealth(name),
  });
  const pipeline = createPipeline({
    modules: supervisorModules(registry, supervisor),
    bus,
    logger,
    store,
  });
  // Events, metrics and module-call observation (issue 5).
  const events = createEventService({
    registry,
    bus,
    logger,
    eventRate: options.eventRate,
    onStatus: (module, report) => pipeline.flows.onModuleStatus(module, report),
    hooks: { onThrottled: (module, kind) => metrics.observeThrottled(module, kind) },
  });
  const metrics = new Metrics({
    registry,
    bus,
    moduleMetrics: events.moduleMetrics,
    connectedModules: () => events.connectedModules(),
    flowStates: () => {
      const counts = new Map<string, number>();
      for (const f of pipeline.flows.list()) {
        const state = FlowState[f.state] ?? String(f.state);
        counts.set(state, (counts.get(state) ?? 0) + 1);
      }
      return counts;
    },
  });
  setModuleCallObserver({
    onCallEnd: (module, method, code, seconds) =>
      metrics.observeModuleCall(module, method, code, seconds),
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
      counts: pipeline.counts,
    }),
    ...entityControl(pipeline.flows),
    ...flowControl(pipeline.flows),
    ...eventControl({ bus, events, registry }),
  };
  const services = [
    { service: ControlService, impl: control, requiresAuth: true },
    { service: ConfigService, impl: configs.handlers(), requiresAuth: true },
    { service: EventService, impl: events.impl },
  ];
  const grpcListener = await startGrpcServer(
    options.grpc.host,
    options.grpc.port,
    services,
    logger,
    (method, code, seconds) => metrics.observeGrpc(method, code, seconds),
    options.auth,
    options.tls,
  );
  const grpcAddress = hostPort(options.grpc.host, grpcListener.port);
  addresses.grpc = grpcAddress;
  addresses.local = grpcListener.localAddress;

  const app = createGateway({
    services: [
      bindService(ControlService, control),
      bindService(ConfigService, configs.handlers()),
    ],
    isReady: () => systemReady(registry),
    metrics: () => metrics.render(),
    extraRoutes: dashboardRoutes,
    auth: options.auth && { token: options.auth.token, isPublic: isDashboardAsset },
    onRequest: (method, route, status, seconds) =>
      metrics.observeHttp(method, route, status, seconds),
    onInternalError: (method, err) =>
      logger.error("handler failed", { method, error: String((err as Error)?.stack ?? err) }),
  });
  try {
    httpServer = Deno.serve({
      hostname: options.http.host,
      port: options.http.port,
      signal: httpAbort.signal,
      onListen: () => {},
      ...options.tls,
    }, app.fetch);
  } catch (err) {
    await grpcListener.stop(0);
    store.close();
    throw new ListenError(
      `cannot listen for HTTP on ${hostPort(options.http.host, options.http.port)}: ${
        (err as Error).message
      }`,
    );
  }
  const httpAddress = hostPort(options.http.host, (httpServer.addr as Deno.NetAddr).port);
  addresses.http = httpAddress;
  logger.info("orchestrator listening", {
    version: VERSION,
    grpc: grpcAddress,
    http: httpAddress,
    tls: options.tls !== undefined,
  });

  const discovered = await discoverModules(modulesDir);
  logger.info("modules discovered", { dir: modulesDir, count: discovered.length });
  // Entities and flows follow module states from the first one on.
  pipeline.flows.activate();
  supervisor.load(discovered);
  const started = supervisor.startAll();
  const seeder = options.seed &&
    new Seeder({ seed: options.seed, flows: pipeline.flows, dataDir, logger });
  seeder?.start();
  // While the first modules start, one call to our own health service warms grpc-js's
  // client code, so registering them does not pay for it.
  warmUpGrpcClient(grpcListener.localAddress);

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
    store,
    pipeline,
    grpcAddress,
    httpAddress,
    started,
    stop(reason = "orchestrator shutting down") {
      stopping ??= (async () => {
        logger.info("stopping", { reason });
        seeder?.stop();
        stopWatching();
        await reloading;
        // Modules stopping now must not degrade or re-route flows: they come back with us.
        await pipeline.close();
        await supervisor.stopAll(reason);
        httpAbort.abort();
        await httpServer?.finished;
        events.close();
        setModuleCallObserver(undefined);
        await grpcListener.stop();
        store.close();
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
