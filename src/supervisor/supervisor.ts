/**
 * The supervisor: turns discovered manifests into modules, starts them in dependency
 * order (independent ones in parallel, each PENDING until its dependencies are READY),
 * and stops them dependents first.
 */
import { ModuleState } from "../gen/callassistant/v1/resources_pb.ts";
import { describeProblems, type Discovered } from "../manifest/discover.ts";
import { ModuleRecord } from "../registry/module_record.ts";
import { stateName } from "../registry/modules.ts";
import { Code, RpcError } from "../rpc/errors.ts";
import { graphProblems, levels } from "./graph.ts";
import { ModuleRunner, type RunnerContext } from "./runner.ts";

const RUNNING = new Set([ModuleState.READY, ModuleState.DEGRADED]);

/** All module runners of one orchestrator. */
export class Supervisor {
  private readonly runners = new Map<string, ModuleRunner>();
  private stopping = false;

  constructor(private readonly ctx: RunnerContext) {}

  /** The runner of `name`; NOT_FOUND when unknown. */
  runner(name: string): ModuleRunner {
    const r = this.runners.get(name);
    if (!r) throw new RpcError(Code.NOT_FOUND, `module "${name}" not found`);
    return r;
  }

  /** Registers discovered modules; bad manifests and graph problems make them FAILED. */
  load(discovered: Discovered[]): void {
    const valid = discovered.flatMap((d) => d.ok ? [d.manifest] : []);
    const names = new Set(discovered.map((d) => d.ok ? d.manifest.name : d.name));
    const problems = graphProblems(valid, names);
    for (const d of discovered) {
      const record = d.ok
        ? new ModuleRecord(d.manifest.name, d.manifest, d.manifest.path)
        : new ModuleRecord(d.name, undefined, d.path);
      this.ctx.registry.add(record);
      this.runners.set(record.name, new ModuleRunner(record, this.ctx));
      const problem = d.ok ? problems.get(d.manifest.name) : describeProblems(d.problems);
      if (problem) {
        this.ctx.registry.setState(record, ModuleState.FAILED, problem);
      } else {
        this.ctx.registry.setState(record, ModuleState.PENDING, "discovered");
      }
    }
  }

  /** Starts every loadable module; resolves when each has reached READY or given up. */
  async startAll(): Promise<void> {
    const startable = [...this.runners.values()]
      .filter((r) => r.record.manifest && r.record.state === ModuleState.PENDING);
    await Promise.all(startable.map((r) => this.startWhenReady(r, "orchestrator started")));
  }

  /** Waits in PENDING until every dependency is READY (or DEGRADED), then starts. */
  private async startWhenReady(runner: ModuleRunner, reason: string): Promise<void> {
    const deps = runner.record.manifest?.dependencies ?? [];
    const blocking = () =>
      deps.filter((d) => !RUNNING.has(this.ctx.registry.get(d)?.state ?? ModuleState.FAILED));
    if (blocking().length > 0) {
      const waitFor = () =>
        `waiting for ${
          blocking().map((d) => `${d} (${stateName(this.ctx.registry.get(d)!.state)})`).join(", ")
        }`;
      this.ctx.registry.setState(runner.record, ModuleState.PENDING, waitFor());
      await new Promise<void>((resolve) => {
        const unwatch = this.ctx.registry.watch((changed) => {
          if (this.stopping || runner.record.state !== ModuleState.PENDING) {
            unwatch();
            resolve();
          } else if (deps.includes(changed.name)) {
            if (blocking().length === 0) {
              unwatch();
              resolve();
            } else runner.record.lastError = waitFor();
          }
        });
      });
      if (this.stopping || runner.record.state !== ModuleState.PENDING) return;
    }
    await runner.start(reason);
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
    const problem = graphProblems(
      [...this.runners.values()].flatMap((r) => r.record.manifest ? [r.record.manifest] : []),
      new Set(this.runners.keys()),
    ).get(name);
    if (problem) {
      throw new RpcError(Code.FAILED_PRECONDITION, `module "${name}" cannot start: ${problem}`);
    }
    if (runner.isWanted && runner.record.pid > 0) return;
    this.ctx.registry.setState(runner.record, ModuleState.PENDING, "start requested");
    await this.startWhenReady(runner, "start requested");
  }

  /** Stops a module by hand; it stays STOPPED until started again. */
  async stop(name: string, timeoutMs?: number): Promise<void> {
    await this.runner(name).stop("stop requested", timeoutMs);
  }

  /** Stops and starts a module (also a FAILED one). */
  async restart(name: string): Promise<void> {
    await this.runner(name).stop("restart requested");
    await this.start(name);
  }

  /** Stops every module, dependents before their dependencies. */
  async stopAll(reason: string): Promise<void> {
    this.stopping = true;
    const manifests = [...this.runners.values()].flatMap((r) =>
      r.record.manifest ? [r.record.manifest] : []
    );
    const ordered = levels(manifests).reverse();
    const inLevels = new Set(ordered.flat());
    const rest = [...this.runners.keys()].filter((n) => !inLevels.has(n));
    for (const level of [rest, ...ordered]) {
      await Promise.all(level.map((name) => this.runners.get(name)!.stop(reason)));
    }
  }
}
