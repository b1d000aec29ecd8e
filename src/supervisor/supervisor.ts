/**
 * The supervisor: turns discovered manifests into modules, starts them in dependency
 * order (independent ones in parallel, each PENDING until its dependencies are READY),
 * and stops them dependents first.
 */
import { ModuleState } from "@callassistant/protocol";
import {
  describeProblems,
  type Discovered,
  discoveredDigest,
  discoveredName,
} from "../manifest/discover.ts";
import { ModuleRecord } from "../modules/module_record.ts";
import { moduleStateName, SERVING_STATES } from "../modules/module_registry.ts";
import { Code, RpcError } from "@callassistant/rpc";
import { graphProblems, levels } from "./graph.ts";
import { planReload, type ReloadPlan } from "./reload.ts";
import { ModuleRunner, type RunnerContext } from "./runner.ts";
import type { ModuleClients } from "../module_calls/module_clients.ts";
import { ReplicaRouter } from "../module_calls/replica_router.ts";

/** All module runners of one orchestrator. */
export class Supervisor {
  readonly #runners = new Map<string, ModuleRunner>();
  /** The other instances of modules with `replicas` > 1, and their call routers. */
  readonly #replicaRunners = new Map<string, ModuleRunner[]>();
  readonly #routers = new Map<string, ReplicaRouter>();
  #stopping = false;

  readonly #ctx: RunnerContext;

  constructor(ctx: RunnerContext) {
    this.#ctx = ctx;
  }

  /** The runner of `name`; NOT_FOUND when unknown. */
  runner(name: string): ModuleRunner {
    const r = this.#runners.get(name);
    if (!r) throw new RpcError(Code.NOT_FOUND, `module "${name}" not found`);
    return r;
  }

  /**
   * The clients of a running module, undefined when it is unknown or not running. For a
   * module with several instances, clients that route each call (see ReplicaRouter).
   */
  clientsOf(name: string): ModuleClients | undefined {
    const router = this.#routers.get(name);
    if (router) return this.#instancesServing(name) > 0 ? router.clients : undefined;
    return this.#runners.get(name)?.clients;
  }

  /** How many instances of `name` serve calls now. */
  #instancesServing(name: string): number {
    const all = [this.#runners.get(name), ...(this.#replicaRunners.get(name) ?? [])];
    return all.filter((r) => r?.clients && SERVING_STATES.has(r.record.state)).length;
  }

  /** The module's runner and those of its other instances. */
  #allRunners(name: string): ModuleRunner[] {
    const primary = this.#runners.get(name);
    return [...(primary ? [primary] : []), ...(this.#replicaRunners.get(name) ?? [])];
  }

  /** Creates (or drops) the other instances of `record` as its manifest asks. */
  #setReplicas(record: ModuleRecord): void {
    const count = record.manifest?.replicas ?? 1;
    if (count <= 1) {
      record.replicas = [];
      this.#replicaRunners.delete(record.name);
      this.#routers.delete(record.name);
      return;
    }
    record.replicas = Array.from({ length: count - 1 }, (_, i) => record.newReplica(i + 1));
    this.#replicaRunners.set(
      record.name,
      record.replicas.map((r) => new ModuleRunner(r, this.#ctx)),
    );
    this.#routers.set(
      record.name,
      new ReplicaRouter(record.name, () =>
        this.#allRunners(record.name).map((runner) => ({
          index: runner.record.replicaIndex,
          serving: () => SERVING_STATES.has(runner.record.state) ? runner.clients : undefined,
        }))),
    );
  }

  /** Kills one instance (e.g. over its memory limit); its restart policy brings it back. */
  killForRestart(record: ModuleRecord, reason: string): void {
    this.#allRunners(record.name).find((r) => r.record === record)?.killForRestart(reason);
  }

  /** Checks a module's health now rather than at its next interval. */
  refreshHealth(name: string): void {
    this.#runners.get(name)?.refreshHealth().catch(() => {});
  }

  /** Registers discovered modules; bad manifests and graph problems make them FAILED. */
  load(discovered: Discovered[]): void {
    for (const d of discovered) this.#add(d);
    this.#markGraphProblems(discovered.map(discoveredName));
  }

  /** Creates the record and runner of a discovered module, PENDING or FAILED. */
  #add(d: Discovered): ModuleRecord {
    const record = d.ok
      ? new ModuleRecord(d.manifest.name, d.manifest, d.manifest.path, d.manifest.digest)
      : new ModuleRecord(d.name, undefined, d.path, d.digest);
    this.#ctx.registry.add(record);
    this.#runners.set(record.name, new ModuleRunner(record, this.#ctx));
    this.#setReplicas(record);
    if (d.ok) this.#ctx.registry.setState(record, ModuleState.PENDING, "discovered");
    else this.#ctx.registry.setState(record, ModuleState.FAILED, describeProblems(d.problems));
    return record;
  }

  /** The manifests of every module that has a valid one. */
  #manifests() {
    return [...this.#runners.values()].flatMap((r) => r.record.manifest ? [r.record.manifest] : []);
  }

  /** Marks the named modules FAILED when the dependency graph has a problem with them. */
  #markGraphProblems(names: string[]): void {
    const problems = graphProblems(this.#manifests(), new Set(this.#runners.keys()));
    for (const name of names) {
      const record = this.#runners.get(name)?.record;
      const problem = problems.get(name);
      if (record?.manifest && problem) {
        this.#ctx.registry.setState(record, ModuleState.FAILED, problem);
      }
    }
  }

  /** Name -> manifest digest of every module, for reload plans. */
  digests(): Map<string, string> {
    return new Map(
      [...this.#runners.values()].map((r) => [r.record.name, r.record.manifestDigest]),
    );
  }

  /**
   * Applies a fresh scan as a diff: new modules start, removed ones stop, edited ones
   * restart. A running module whose manifest became invalid keeps running on its last good
   * manifest, with the problem shown in `lastError` and an event.
   */
  async reload(discovered: Discovered[]): Promise<ReloadPlan> {
    const plan = planReload(this.digests(), discovered);
    const byName = new Map(discovered.map((d) => [discoveredName(d), d]));
    await Promise.all(plan.removed.map(async (name) => {
      await Promise.all(this.#allRunners(name).map((r) => r.stop("manifest removed")));
      this.#runners.delete(name);
      this.#replicaRunners.delete(name);
      this.#routers.delete(name);
      this.#ctx.registry.remove(name);
      this.#ctx.bus.publish({
        type: "module.removed",
        module: name,
        message: `${name}: manifest removed`,
      });
    }));
    const toStart: ModuleRunner[] = [];
    for (const name of plan.changed) {
      const d = byName.get(name)!;
      const runner = this.#runners.get(name)!;
      const record = runner.record;
      if (!d.ok && runner.isWanted && record.manifest) {
        record.manifestDigest = d.digest;
        record.lastError = `manifest invalid, still running the previous version: ${
          describeProblems(d.problems)
        }`;
        this.#ctx.logger.warn("manifest invalid; module keeps running", {
          module: name,
          problem: record.lastError,
        });
        this.#ctx.bus.publish({
          type: "module.manifest_invalid",
          module: name,
          message: `${name}: ${record.lastError}`,
        });
        continue;
      }
      await Promise.all(this.#allRunners(name).map((r) => r.stop("manifest changed")));
      record.manifestDigest = discoveredDigest(d);
      if (d.ok) {
        record.manifest = d.manifest;
        record.manifestPath = d.manifest.path;
        record.lastError = "";
        this.#setReplicas(record);
        this.#ctx.registry.setState(record, ModuleState.PENDING, "manifest changed");
        toStart.push(runner);
      } else {
        record.manifest = undefined;
        this.#setReplicas(record);
        this.#ctx.registry.setState(record, ModuleState.FAILED, describeProblems(d.problems));
      }
    }
    for (const name of plan.added) {
      const record = this.#add(byName.get(name)!);
      if (record.manifest) toStart.push(this.#runners.get(name)!);
    }
    this.#markGraphProblems([...plan.added, ...plan.changed]);
    for (const runner of toStart) {
      if (runner.record.state === ModuleState.PENDING) {
        this.#startWhenReady(runner, "reload").catch(() => {});
      }
    }
    return plan;
  }

  /** Starts every loadable module; resolves when each has reached READY or given up. */
  async startAll(): Promise<void> {
    const startable = [...this.#runners.values()]
      .filter((r) => r.record.manifest && r.record.state === ModuleState.PENDING);
    await Promise.all(startable.map((r) => this.#startWhenReady(r, "orchestrator started")));
  }

  /** Waits in PENDING until every dependency is READY (or DEGRADED), then starts. */
  async #startWhenReady(runner: ModuleRunner, reason: string): Promise<void> {
    const deps = runner.record.manifest?.dependencies ?? [];
    const blocking = () =>
      deps.filter((d) =>
        !SERVING_STATES.has(this.#ctx.registry.get(d)?.state ?? ModuleState.FAILED)
      );
    if (blocking().length > 0) {
      const waitFor = () =>
        `waiting for ${
          blocking().map((d) => `${d} (${moduleStateName(this.#ctx.registry.get(d)!.state)})`).join(
            ", ",
          )
        }`;
      const showWaiting = () => {
        const reason = waitFor();
        if (reason === runner.record.lastError) return;
        runner.record.lastError = reason;
        this.#ctx.logger.info("module waiting", { module: runner.record.name, reason });
      };
      this.#ctx.registry.setState(runner.record, ModuleState.PENDING, waitFor());
      showWaiting();
      await new Promise<void>((resolve) => {
        const unwatch = this.#ctx.registry.watch((changed) => {
          if (this.#stopping || runner.record.state !== ModuleState.PENDING) {
            unwatch();
            resolve();
          } else if (deps.includes(changed.name)) {
            if (blocking().length === 0) {
              unwatch();
              resolve();
            } else showWaiting();
          }
        });
      });
      if (this.#stopping || runner.record.state !== ModuleState.PENDING) return;
    }
    const replicas = this.#replicaRunners.get(runner.record.name) ?? [];
    await Promise.all([runner.start(reason), ...replicas.map((r) => r.start(reason))]);
  }

  /** Starts a module by hand (also a FAILED one); dependencies must be running. */
  async start(name: string): Promise<void> {
    const runner = this.runner(name);
    if (!runner.record.manifest) {
      throw new RpcError(
        Code.FAILED_PRECONDITION,
        `module "${name}" cannot start: ${runner.record.lastError}`,
      );
    }
    const problem = graphProblems(this.#manifests(), new Set(this.#runners.keys())).get(name);
    if (problem) {
      throw new RpcError(Code.FAILED_PRECONDITION, `module "${name}" cannot start: ${problem}`);
    }
    if (runner.isWanted && runner.record.pid > 0) return;
    this.#ctx.registry.setState(runner.record, ModuleState.PENDING, "start requested");
    await this.#startWhenReady(runner, "start requested");
  }

  /** Stops a module by hand; it stays STOPPED until started again. */
  async stop(name: string, timeoutMs?: number): Promise<void> {
    this.runner(name);
    await Promise.all(this.#allRunners(name).map((r) => r.stop("stop requested", timeoutMs)));
  }

  /** Stops and starts a module (also a FAILED one). */
  async restart(name: string): Promise<void> {
    this.runner(name);
    await Promise.all(this.#allRunners(name).map((r) => r.stop("restart requested")));
    await this.start(name);
  }

  /** Stops every module, dependents before their dependencies. */
  async stopAll(reason: string): Promise<void> {
    this.#stopping = true;
    const ordered = levels(this.#manifests()).reverse();
    const inLevels = new Set(ordered.flat());
    const rest = [...this.#runners.keys()].filter((n) => !inLevels.has(n));
    for (const level of [rest, ...ordered]) {
      await Promise.all(
        level.flatMap((name) => this.#allRunners(name)).map((r) => r.stop(reason)),
      );
    }
  }
}
