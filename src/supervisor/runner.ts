/**
 * Runs one module through its lifecycle: spawn, wait for its gRPC server, register,
 * health-check, restart with backoff when it fails, park it in FAILED in a crash loop,
 * and stop it (Shutdown RPC, SIGTERM to its process group, SIGKILL after `stop_timeout`).
 *
 * Past 400 lines on purpose: every step checks the runner's generation (a newer start or
 * stop makes an older step's callbacks void), so the steps stay in one class. The rules
 * that need no process (backoff, crash loop) are in restart_backoff.ts.
 */
import { HealthState, ModuleState, Severity } from "@callassistant/protocol";
import type { EventBus } from "../events/event_bus.ts";
import type { Logger } from "../log/logger.ts";
import type { Manifest } from "../manifest/manifest.ts";
import type { ModuleRecord } from "../modules/module_record.ts";
import type { ModuleRegistry } from "../modules/module_registry.ts";
import { createModuleClients, type ModuleClients } from "../module_calls/module_clients.ts";
import { readModuleTls } from "../manifest/tls.ts";
import { Alarm, freePort, waitForPort } from "./ports.ts";
import { type ModuleProcess, spawnModule } from "./module_process.ts";
import type { PidRecords } from "./pid_records.ts";
import type { ModuleCgroups } from "./cgroups.ts";
import { chownTree, resolveRunAs } from "./run_as.ts";
import { RestartBackoff, type RunnerClock, SYSTEM_CLOCK, type TimerId } from "./restart_backoff.ts";

/** How long a module gets to exit after the Shutdown RPC before SIGTERM. */
const SHUTDOWN_GRACE_MS = 3_000;

/** What every runner shares. */
export interface RunnerContext {
  registry: ModuleRegistry;
  bus: EventBus;
  logger: Logger;
  /** host:port of the orchestrator's EventService, given to modules. */
  orchestratorAddress: string;
  /** The data directory; modules get `<data>/modules/<name>`. */
  dataDir: string;
  /** Run `dev_command` and set CALL_ASSISTANT_DEV=1. */
  dev: boolean;
  version: string;
  /** Echo module output lines to the orchestrator log. */
  echoOutput: boolean;
  /** Where spawned processes are recorded for the next run. */
  pids?: PidRecords;
  /**
   * The directory holding the Python SDK (`callassistant`), appended to every module's
   * PYTHONPATH so Python modules import it without an install; none when unset.
   */
  pythonSdkDir?: string;
  /** A cgroup per module instance, when the orchestrator can make them. */
  cgroups?: ModuleCgroups;
  /** Called after every registration, before readiness (sends the stored configuration). */
  onRegistered?: (record: ModuleRecord, clients: ModuleClients) => Promise<void>;
  /** The clock, timers and randomness of restarts and health checks; the real ones by default. */
  clock?: RunnerClock;
}

function randomToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function describeExit(status: Deno.CommandStatus): string {
  return status.signal ? `killed by ${status.signal}` : `exited with code ${status.code}`;
}

/** The lifecycle of one module. */
export class ModuleRunner {
  #process?: ModuleProcess;
  /** The clients of the running module, once its server answers. */
  clients?: ModuleClients;
  /** Bumped at every start and stop, so callbacks of an older run are ignored. */
  #generation = 0;
  #wanted = false;
  #healthTimer?: TimerId;
  #restartTimer?: TimerId;
  #readyAt = 0;
  readonly #clock: RunnerClock;
  readonly #backoff: RestartBackoff;
  /** Why the current process is being killed, reported when it exits. */
  #killReason = "";
  /** Woken by every output line, so a starting module's port is tried at once. */
  readonly #outputAlarm = new Alarm();

  readonly #ctx: RunnerContext;

  constructor(readonly record: ModuleRecord, ctx: RunnerContext) {
    this.#ctx = ctx;
    this.#clock = ctx.clock ?? SYSTEM_CLOCK;
    this.#backoff = new RestartBackoff(this.#clock);
  }

  get #manifest(): Manifest {
    return this.record.manifest!;
  }

  #setState(state: ModuleState, reason: string): void {
    this.#ctx.registry.setState(this.record, state, reason);
  }

  /** True while the module should be running (started and not stopped). */
  get isWanted(): boolean {
    return this.#wanted;
  }

  /** Starts the module (by hand or at boot), resetting its crash-loop count. */
  async start(reason: string): Promise<void> {
    this.#wanted = true;
    this.#backoff.reset();
    this.record.restarts = 0;
    this.#clock.clearTimeout(this.#restartTimer);
    await this.#launch(reason);
  }

  /** One start attempt; resolves when the module is READY or the attempt failed. */
  async #launch(reason: string): Promise<void> {
    const generation = ++this.#generation;
    const m = this.#manifest;
    const record = this.record;
    // Runs are numbered over the module's life: a start by hand does not reset them.
    record.run = record.runs++;
    this.#setState(ModuleState.STARTING, reason);
    this.#ctx.registry.resetHealth(record);
    record.registration = undefined;
    this.#killReason = "";

    let host = "127.0.0.1";
    if (m.address) {
      const i = m.address.lastIndexOf(":");
      host = m.address.slice(0, i);
      record.port = Number(m.address.slice(i + 1));
    } else {
      const spawned = this.#spawn(generation);
      if (!spawned) return;
    }

    const abort = new AbortController();
    const timer = setTimeout(
      () =>
        abort.abort(
          new Error(`did not answer on port ${record.port} within ${m.startTimeoutMs} ms`),
        ),
      m.startTimeoutMs,
    );
    this.#process?.status.then((s) => abort.abort(new Error(`${describeExit(s)} while starting`)));
    try {
      await waitForPort(host, record.port, { signal: abort.signal, alarm: this.#outputAlarm });
      if (generation !== this.#generation) return;
      // TLS files are read at each start, so renewed certificates take effect on restart.
      const tls = m.tls ? readModuleTls(m.tls) : undefined;
      this.clients = createModuleClients(`${host}:${record.port}`, record.name, (state, reason) => {
        this.#ctx.logger.warn("module circuit breaker", { module: record.name, state, reason });
        this.#ctx.bus.publish({
          type: `module.circuit_${state.replace("-", "_")}`,
          severity: state === "open" ? Severity.WARNING : Severity.INFO,
          module: record.name,
          message: `${record.name}: circuit ${state}: ${reason}`,
        });
      }, tls);
      const registration = await this.clients.module.registerModule({
        moduleId: record.name,
        orchestratorVersion: this.#ctx.version,
        orchestratorAddress: this.#ctx.orchestratorAddress,
        restart: record.run,
      }, { timeoutMs: m.startTimeoutMs, signal: abort.signal });
      if (generation !== this.#generation) return;
      record.registration = registration;
      if (registration.info?.name && registration.info.name !== record.name) {
        this.#ctx.logger.warn("module registered under another name", {
          module: record.name,
          registered: registration.info.name,
        });
      }
      await this.#ctx.onRegistered?.(record, this.clients);
      if (generation !== this.#generation) return;
      // Poll while the module reports STARTING; the start timeout bounds it.
      let state = await this.#checkHealth(generation, abort.signal);
      while (state === HealthState.STARTING && !abort.signal.aborted) {
        await new Promise((r) => setTimeout(r, 100));
        state = await this.#checkHealth(generation, abort.signal);
      }
      if (generation !== this.#generation) return;
      if (state === undefined || state === HealthState.UNHEALTHY) {
        throw new Error(`health check failed: ${record.health.message}`);
      }
      this.#readyAt = this.#clock.now();
      this.#applyHealth(state, "registered");
      this.#scheduleHealth(generation);
    } catch (err) {
      if (generation !== this.#generation) return;
      const message = abort.signal.aborted
        ? (abort.signal.reason as Error).message
        : `start failed: ${(err as Error).message}`;
      await this.#failStart(generation, message);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Spawns the process; on a spawn error the module is FAILED. Returns success. */
  #spawn(generation: number): boolean {
    const m = this.#manifest;
    const record = this.record;
    record.port = freePort();
    record.token = randomToken();
    record.legacyToken = randomToken();
    const dataDir = `${this.#ctx.dataDir}/modules/${record.instanceName}`;
    Deno.mkdirSync(dataDir, { recursive: true });
    const argv = this.#ctx.dev ? m.devCommand : m.command;
    const env: Record<string, string> = {
      ...Deno.env.toObject(),
      ...m.env,
      GRPC_PORT: String(record.port),
      MODULE_ID: record.name,
      MODULE_NAME: record.name,
      ORCHESTRATOR_ADDRESS: this.#ctx.orchestratorAddress,
      // The token is handed over on standard input (stdinText below); the environment's
      // copy is deprecated, kept for one release for modules that read it there.
      MODULE_TOKEN_STDIN: "1",
      MODULE_TOKEN: record.legacyToken,
      MODULE_DATA_DIR: dataDir,
      MODULE_REPLICA: String(record.replicaIndex),
      MODULE_REPLICAS: String(m.replicas),
    };
    if (this.#ctx.pythonSdkDir) {
      // After the module's own entries: a manifest may bring another copy of the SDK.
      env.PYTHONPATH = [env.PYTHONPATH, this.#ctx.pythonSdkDir].filter(Boolean).join(":");
    }
    if (this.#ctx.dev) env.CALL_ASSISTANT_DEV = "1";
    else delete env.CALL_ASSISTANT_DEV;
    const restart = record.run;
    let proc: ModuleProcess;
    try {
      // Another user (manifest `user:`): its identity, its data directory.
      const runAs = m.user ? resolveRunAs(m.user, m.group) : undefined;
      if (runAs) {
        chownTree(dataDir, runAs.uid, runAs.gid);
        Object.assign(env, { HOME: runAs.home, USER: runAs.user, LOGNAME: runAs.user });
      }
      const cgroups = this.#ctx.cgroups;
      proc = spawnModule({
        argv,
        cwd: m.dir,
        env,
        cgroup: cgroups && {
          dir: cgroups.prepare(record.instanceName),
          wrap: (dir, argv) => cgroups.wrap(dir, argv),
        },
        stdinText: `MODULE_TOKEN=${record.token}\n`,
        runAs: runAs?.prefix,
        onLine: (stream, line) => {
          this.#outputAlarm.wake();
          const entry = record.log.push({
            time: new Date(),
            module: record.name,
            pid: proc.pid,
            restart,
            stream,
            line,
          });
          // Rate-limited per module; the tail above keeps every line.
          if (this.#ctx.echoOutput) record.log.echo(this.#ctx.logger, entry);
        },
      });
    } catch (err) {
      record.port = 0;
      record.token = "";
      record.legacyToken = "";
      this.#wanted = false;
      this.#setState(
        ModuleState.FAILED,
        `cannot start "${argv.join(" ")}": ${(err as Error).message}`,
      );
      return false;
    }
    this.#process = proc;
    record.processes = () => proc.members();
    this.#ctx.pids?.add(record.name, proc.pid, proc.cgroup);
    record.pid = proc.pid;
    record.startedAt = new Date();
    record.addRun({
      restart,
      pid: proc.pid,
      startedAt: { seconds: BigInt(Math.floor(this.#clock.now() / 1000)) },
    });
    this.#ctx.logger.info("module spawned", {
      module: record.name,
      ...(m.replicas > 1 ? { replica: record.replicaIndex } : {}),
      pid: proc.pid,
      port: record.port,
      restart,
    });
    proc.status.then((status) => this.#onExit(generation, proc, status));
    return true;
  }

  /**
   * Ends a start that failed (timeout, registration error): the process group is killed
   * and the module is FAILED until started by hand. A process that exited on its own
   * was already handled by `onExit` (restart policy).
   */
  async #failStart(generation: number, reason: string): Promise<void> {
    // A stop in progress owns the process now.
    if (this.record.state === ModuleState.STOPPING) return;
    const proc = this.#process;
    this.#closeClients();
    if (this.#manifest.address) {
      if (this.#wanted) this.#scheduleRestart(reason);
      return;
    }
    if (!proc || generation !== this.#generation) return;
    this.#generation++;
    this.#wanted = false;
    this.#killReason = reason;
    proc.signal("SIGKILL");
    const status = await proc.status;
    await proc.waitGone(2_000);
    this.#clearProcess(status);
    this.#setState(ModuleState.FAILED, reason);
  }

  /** Forgets the exited process, keeping how it ended. */
  #clearProcess(status: Deno.CommandStatus): void {
    if (this.record.pid > 0) this.#ctx.pids?.remove(this.record.pid);
    this.record.exitCode = status.signal ? undefined : status.code;
    this.record.exitSignal = status.signal ?? "";
    this.record.pid = 0;
    this.record.token = "";
    this.record.legacyToken = "";
    this.record.processes = () => [];
    this.#process = undefined;
    this.#clock.clearTimeout(this.#healthTimer);
    this.#closeClients();
  }

  /** One health check; updates the record and returns the reported state. */
  async #checkHealth(
    generation: number,
    signal?: AbortSignal,
  ): Promise<HealthState | undefined> {
    const record = this.record;
    try {
      const res = await this.clients!.module.healthCheck({}, {
        timeoutMs: this.#manifest.health.timeoutMs,
        signal,
      });
      if (generation !== this.#generation) return undefined;
      return this.#ctx.registry.recordHealthCheck(record, res.state, res.message);
    } catch (err) {
      if (generation !== this.#generation) return undefined;
      this.#ctx.registry.recordHealthCheck(record, undefined, (err as Error).message);
      return undefined;
    }
  }

  /** Checks health now (e.g. after a new configuration) instead of at the next interval. */
  async refreshHealth(): Promise<void> {
    const generation = this.#generation;
    if (!this.clients || this.record.state === ModuleState.STARTING) return;
    const state = await this.#checkHealth(generation);
    if (generation !== this.#generation || state === undefined) return;
    if (state !== HealthState.UNHEALTHY) this.#applyHealth(state, "configured");
  }

  /** Maps a module-reported health state to the orchestrator-side state. */
  #applyHealth(state: HealthState, reason: string): void {
    const message = this.record.health.message;
    if (state === HealthState.WAITING_FOR_CONFIG) {
      this.#setState(ModuleState.WAITING_FOR_CONFIG, message || "module waits for configuration");
    } else if (state === HealthState.DEGRADED) {
      this.#setState(ModuleState.DEGRADED, message || "module reports degraded");
    } else if (this.record.state !== ModuleState.READY) {
      this.#setState(ModuleState.READY, reason);
    }
  }

  #scheduleHealth(generation: number): void {
    this.#clock.clearTimeout(this.#healthTimer);
    this.#healthTimer = this.#clock.setTimeout(async () => {
      if (generation !== this.#generation) return;
      const state = await this.#checkHealth(generation);
      if (generation !== this.#generation) return;
      const h = this.#manifest.health;
      const inGrace = this.#clock.now() - this.#readyAt < h.startGraceMs;
      if (state === undefined || state === HealthState.UNHEALTHY) {
        const failures = inGrace
          ? this.record.health.failures
          : this.#ctx.registry.countHealthFailure(this.record, true);
        if (failures >= h.failureThreshold) {
          const reason = `health check failed ${failures} times: ${this.record.health.message}`;
          this.killForRestart(reason);
          return;
        }
      } else {
        this.#ctx.registry.countHealthFailure(this.record, false);
        this.#applyHealth(state, "healthy again");
      }
      this.#scheduleHealth(generation);
    }, this.#manifest.health.intervalMs);
  }

  /** Kills an unhealthy module; its exit triggers the restart policy with `reason`. */
  killForRestart(reason: string): void {
    this.#clock.clearTimeout(this.#healthTimer);
    if (this.#manifest.address) {
      this.#closeClients();
      this.#scheduleRestart(reason);
      return;
    }
    this.#killReason = reason;
    this.#process?.signal("SIGKILL");
  }

  #closeClients(): void {
    this.clients?.close();
    this.clients = undefined;
  }

  /** Handles the exit of a process, expected or not. */
  #onExit(generation: number, proc: ModuleProcess, status: Deno.CommandStatus): void {
    const record = this.record;
    const run = record.history.find((r) => r.pid === proc.pid);
    const reason = this.#killReason || describeExit(status);
    if (run) {
      run.exitedAt = { seconds: BigInt(Math.floor(this.#clock.now() / 1000)) };
      run.exitCode = status.signal ? undefined : status.code;
      run.signal = status.signal ?? "";
      run.reason = reason;
    }
    if (generation !== this.#generation || this.#process !== proc) return;
    if (record.state === ModuleState.STOPPING) return;
    // Reap the rest of the group: nothing of a dead module may keep running.
    if (proc.members().length > 0) proc.signal("SIGKILL");
    this.#clearProcess(status);
    if (record.state === ModuleState.FAILED) return;
    this.#ctx.logger.warn("module exited", { module: record.name, pid: proc.pid, reason });
    if (!this.#wanted) {
      this.#setState(ModuleState.STOPPED, reason);
      return;
    }
    const policy = this.#manifest.restart.policy;
    if (policy === "never") {
      this.#wanted = false;
      this.#setState(ModuleState.FAILED, `${reason} (restart policy "never")`);
    } else if (
      policy === "on-failure" && status.code === 0 && !status.signal && !this.#killReason
    ) {
      this.#wanted = false;
      this.#setState(ModuleState.STOPPED, `${reason} (restart policy "on-failure")`);
    } else {
      this.#scheduleRestart(reason);
    }
  }

  /** Restarts after a backoff, or parks the module in a crash loop (restart_backoff.ts). */
  #scheduleRestart(reason: string): void {
    // A remote module is never parked: it is reconnected with backoff until it is back.
    const next = this.#backoff.next(this.#manifest.restart, this.#readyAt, !this.#manifest.address);
    if (next.kind === "park") {
      this.#wanted = false;
      this.#setState(
        ModuleState.FAILED,
        `crash loop: ${next.restarts} restarts within ${next.windowMs / 1000} s; last: ${reason}`,
      );
      return;
    }
    this.#setState(ModuleState.BACKOFF, `${reason}; restarting in ${next.delayMs} ms`);
    const generation = this.#generation;
    this.#restartTimer = this.#clock.setTimeout(() => {
      if (generation !== this.#generation || !this.#wanted) return;
      this.record.restarts++;
      this.record.restartsTotal++;
      this.#launch(`restart ${this.record.restarts} after: ${reason}`);
    }, next.delayMs);
  }

  /**
   * Stops the module: Shutdown RPC, a grace period, SIGTERM to its process group, SIGKILL
   * after `stop_timeout`, until no process of the group is left.
   */
  async stop(
    reason: string,
    stopTimeoutMs = this.#manifest?.stopTimeoutMs ?? 10_000,
  ): Promise<void> {
    this.#wanted = false;
    this.#clock.clearTimeout(this.#restartTimer);
    this.#clock.clearTimeout(this.#healthTimer);
    const proc = this.#process;
    if (!proc) {
      this.#generation++;
      this.#closeClients();
      if (this.record.state !== ModuleState.STOPPED) this.#setState(ModuleState.STOPPED, reason);
      return;
    }
    this.#setState(ModuleState.STOPPING, reason);
    const exited = (ms: number) =>
      Promise.race([
        proc.status.then(() => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), ms)),
      ]);
    const grace = Math.min(SHUTDOWN_GRACE_MS, stopTimeoutMs);
    try {
      await this.clients?.module.shutdown({
        gracePeriod: { seconds: BigInt(Math.ceil(grace / 1000)) },
        reason,
      }, { timeoutMs: grace });
    } catch {
      // An unresponsive module is handled by the signals below.
    }
    if (!(await exited(grace))) proc.signal("SIGTERM");
    let gone = await exited(stopTimeoutMs);
    if (gone) {
      // What the module started, and what left its process group, goes too.
      proc.signal("SIGTERM");
      gone = await proc.waitGone(stopTimeoutMs);
    }
    if (!gone) {
      this.#ctx.logger.warn("module did not stop in time, killing its process group", {
        module: this.record.name,
        pid: proc.pid,
      });
      proc.signal("SIGKILL");
      await proc.status;
      await proc.waitGone(2_000);
    }
    this.#generation++;
    this.#clearProcess(await proc.status);
    this.#setState(ModuleState.STOPPED, reason);
  }
}
