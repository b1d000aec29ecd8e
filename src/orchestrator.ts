/**
 * The orchestrator: wires the registry, event bus, supervisor, gRPC server and HTTP
 * gateway together, starts the modules, and shuts everything down in order.
 */
import { ConfigService } from "@callassistant/protocol";
import { ControlService } from "@callassistant/protocol";
import { EventService } from "@callassistant/protocol";
import { FlowState } from "@callassistant/protocol";
import { entityControl } from "./control/entity_rpcs.ts";
import { flowControl } from "./control/flow_rpcs.ts";
import { eventControl } from "./control/event_rpcs.ts";
import { moduleControl, systemReady } from "./control/module_rpcs.ts";
import { supervisorModules } from "./module_calls/module_caller.ts";
import { EventBus } from "./events/event_bus.ts";
import { createEventService } from "./event_service/event_service.ts";
import type { Rate } from "./async/token_bucket.ts";
import { Metrics } from "./metrics/metrics.ts";
import { registerFlowMediaMetrics } from "./metrics/flow_media_metrics.ts";
import { setModuleCallObserver } from "./module_calls/module_clients.ts";
import { bindService, createGateway } from "./gateway/app.ts";
import type { Logger } from "./log/logger.ts";
import type { PartialServiceImpl } from "@callassistant/rpc";
import { discoverModules } from "./manifest/discover.ts";
import { createPipeline, type Pipeline } from "./flows/flow_pipeline.ts";
import { ModuleRegistry } from "./modules/module_registry.ts";
import { startGrpcServer } from "./server/grpc_server.ts";
import { type HttpListener, startHttpListener } from "./server/http_listener.ts";
import { hostPort } from "@callassistant/rpc";
import { Health } from "@callassistant/protocol/grpc/health/v1";
import { createClient } from "@callassistant/rpc";
import type { TlsFiles } from "@callassistant/rpc";
import { Store, STORE_FILE } from "./store/store.ts";
import { HostPolicy } from "./security/hosts.ts";
import { PeerProcessCheck } from "./security/peer_process.ts";
import { restoreBackup } from "./store/backup.ts";
import { ModuleConfigs } from "./config/config_service.ts";
import { Supervisor } from "./supervisor/supervisor.ts";
import { PidRecords } from "./supervisor/pid_records.ts";
import { pythonSdkDir } from "./supervisor/python_sdk_dir.ts";
import { ModuleCgroups } from "./supervisor/cgroups.ts";
import { previewRoutes } from "./web/preview.ts";
import { ResourceSampler, samplerIntervalFromEnv } from "./supervisor/resource_sampler.ts";
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
   * The bearer token both listeners require (see src/security/auth.ts); without
   * it the control API is open.
   */
  auth?: { token: string };
  /**
   * Put the newest good backup of the database in place before opening it, keeping the
   * file that was there beside it (`run --restore-backup`).
   */
  restoreBackup?: boolean;
  /** Host names and page origins accepted besides loopback (see src/security/hosts.ts). */
  allowedHosts?: string[];
  allowedOrigins?: string[];
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
  /** Kills every module process at once (a forced exit): process groups and cgroups. */
  killModules(): void;
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
  const sampleIntervalMs = samplerIntervalFromEnv();
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
  // Each module in a cgroup of its own when we can make one (made once the listeners are
  // up, before any module starts); else its process group.
  // deno-lint-ignore prefer-const -- assigned once the listeners are up (the linter misses it)
  let cgroups: ModuleCgroups | undefined;
  const bus = new EventBus();
  const registry = new ModuleRegistry(bus, logger);

  // Both listeners are bound before any module starts, so a busy port fails fast.
  let httpListener: HttpListener | undefined;
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
    get cgroups() {
      return cgroups;
    },
    onRegistered: (record, clients): Promise<void> => configs.apply(record, clients),
  });
  if (options.restoreBackup) {
    const restored = restoreBackup(`${dataDir}/${STORE_FILE}`);
    logger.warn("database restored from its backup", { ...restored });
  }
  const store = Store.open(dataDir, STORE_FILE, {
    onBackupError: (err) => logger.warn("database backup failed", { error: err.message }),
  });
  // The store just passed its integrity check: keep it as the newest backup if it changed.
  store.backupIfChanged().then(
    (file) => file && logger.debug("database backed up", { file }),
    (err) => logger.warn("database backup failed", { error: (err as Error).message }),
  );
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
  // Events, metrics and module-call observation.
  const peerCheck = new PeerProcessCheck(logger);
  const events = createEventService({
    registry,
    bus,
    logger,
    eventRate: options.eventRate,
    onStatus: (module, report) => pipeline.flows.onModuleStatus(module, report),
    // A module token is good only from the module's own processes.
    verifyCaller: (record, ctx) =>
      peerCheck.verify(ctx.peer, record.token, () => record.processes(), record.name),
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
  registerFlowMediaMetrics(metrics.registry, {
    flows: () => pipeline.flows.list(),
    watchdog: pipeline.flows.watchdog,
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
  // Both listeners accept the addresses they listen on (added once bound).
  const hosts = new HostPolicy({
    allowedHosts: options.allowedHosts,
    allowedOrigins: options.allowedOrigins,
  });
  hosts.addListenHost(options.grpc.host);
  hosts.addListenHost(options.http.host);
  const grpcListener = await startGrpcServer({
    host: options.grpc.host,
    port: options.grpc.port,
    services,
    logger,
    onCallEnd: (method, code, seconds) => metrics.observeGrpc(method, code, seconds),
    auth: options.auth,
    tls: options.tls,
    hosts,
  });
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
    extraRoutes: (app) => {
      dashboardRoutes(app);
      previewRoutes(app, () => pipeline.flows.list().flatMap((f) => f.connections));
    },
    auth: options.auth && { token: options.auth.token, isPublic: isDashboardAsset },
    hosts,
    onRequest: (method, route, status, seconds) =>
      metrics.observeHttp(method, route, status, seconds),
    onInternalError: (method, err) =>
      logger.error("handler failed", { method, error: String((err as Error)?.stack ?? err) }),
  });
  try {
    httpListener = startHttpListener({
      host: options.http.host,
      port: options.http.port,
      tls: options.tls,
      handler: (request, env) => app.fetch(request, env),
    });
  } catch (err) {
    await grpcListener.stop(0);
    store.close();
    throw err;
  }
  const httpAddress = hostPort(options.http.host, httpListener.port);
  addresses.http = httpAddress;
  logger.info("orchestrator listening", {
    version: VERSION,
    grpc: grpcAddress,
    http: httpAddress,
    tls: options.tls !== undefined,
  });

  const contained = await ModuleCgroups.create();
  cgroups = contained.cgroups;
  if (cgroups) {
    logger.info("module processes contained", { by: "cgroup", cgroup: cgroups.root });
  } else {
    logger.warn(
      "module processes contained by process group only: a child that calls setsid can " +
        "outlive its module",
      { by: "process group", reason: contained.reason },
    );
  }

  const discovered = await discoverModules(modulesDir);
  logger.info("modules discovered", { dir: modulesDir, count: discovered.length });
  // Entities and flows follow module states from the first one on.
  pipeline.flows.activate();
  supervisor.load(discovered);
  const started = supervisor.startAll();
  // CPU and memory of every module's process tree, and the manifests' memory limits.
  const sampler = new ResourceSampler({
    registry,
    bus,
    logger,
    intervalMs: sampleIntervalMs,
    restart: (record, reason) => supervisor.killForRestart(record, reason),
  });
  if (sampleIntervalMs !== 0) sampler.start();
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
    killModules() {
      for (const r of registry.list()) {
        for (const instance of [r, ...r.replicas]) {
          if (instance.pid <= 0) continue;
          try {
            Deno.kill(-instance.pid, "SIGKILL");
          } catch {
            // Already gone.
          }
        }
      }
      cgroups?.killAll();
    },
    stop(reason = "orchestrator shutting down") {
      stopping ??= (async () => {
        logger.info("stopping", { reason });
        seeder?.stop();
        sampler.stop();
        stopWatching();
        await reloading;
        // Modules stopping now must not degrade or re-route flows: they come back with us.
        await pipeline.close();
        await supervisor.stopAll(reason);
        await cgroups?.close();
        await httpListener?.stop();
        events.close();
        setModuleCallObserver(undefined);
        await grpcListener.stop();
        // A clean stop is a quiet moment: the last good store becomes the newest backup.
        await store.backupIfChanged().catch((err) =>
          logger.warn("database backup failed", { error: (err as Error).message })
        );
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
