/**
 * Recovery: following module states and keeping wanted flows running.
 *
 * When a module on a path stops running, its entities go OFFLINE and its flows
 * DEGRADED, and the flow is re-routed at once when other running converters can serve;
 * otherwise it waits. When a module becomes READY its desired entities are recreated
 * (same ids) and every flow that should run and is not established is rebuilt, reusing
 * its converter entities where the path is unchanged.
 */
import type { MediaPath, ModuleState } from "@callassistant/protocol";
import { ENTITIES_CHANGED_EVENT, FlowState, Severity } from "@callassistant/protocol";
import type { EventBus } from "../events/event_bus.ts";
import type { Logger } from "../log/logger.ts";
import type { CapabilityIndex } from "../entities/capabilities.ts";
import {
  COMING_STATES,
  type ModuleCaller,
  ModuleCallError,
  type ModuleDirectory,
} from "../module_calls/module_caller.ts";
import { SERVING_STATES } from "../modules/module_registry.ts";
import type { EntityRegistry } from "../entities/entity_registry.ts";
import { NoPathError } from "./pathfinder.ts";
import type { FlowBuilder } from "./flow_builder.ts";
import { describeRoute, findFlowPaths } from "./flow_paths.ts";
import type { FlowRecord, FlowRecords } from "./flow_records.ts";
import type { FlowTasks } from "./flow_tasks.ts";

/** What recovery needs. */
export interface FlowRecoveryOptions {
  flows: FlowRecords;
  builder: FlowBuilder;
  tasks: FlowTasks;
  modules: ModuleDirectory;
  caps: CapabilityIndex;
  caller: ModuleCaller;
  entities: EntityRegistry;
  bus: EventBus;
  logger: Logger;
}

/** Whether a module runs, and how often it came up. */
interface ModuleUps {
  running: boolean;
  ups: number;
}

/** Reacts to module state changes and re-establishes or re-routes the flows they hit. */
export class FlowRecovery {
  /** What the modules did, as observed. */
  readonly #seen = new Map<string, ModuleUps>();
  /** What of it was handled on the queue. */
  readonly #handled = new Map<string, ModuleUps>();
  readonly #reconciling = new Set<string>();

  readonly #options: FlowRecoveryOptions;

  constructor(options: FlowRecoveryOptions) {
    this.#options = options;
  }

  /**
   * Starts following module states and the modules' entity changes; returns the
   * function that stops it.
   */
  follow(): () => void {
    const { modules, bus } = this.#options;
    for (const name of modules.names()) this.#observe(name, modules.state(name)!);
    const stopWatching = modules.watch((name, state) => this.#observe(name, state));
    const unsubscribe = bus.subscribe((event) => {
      if (event.source === "module" && event.type === ENTITIES_CHANGED_EVENT && event.module) {
        this.#scheduleReconcile(event.module);
      }
    });
    return () => {
      stopWatching();
      unsubscribe();
    };
  }

  /**
   * Re-establishes a flow that should run and is not established: waits while its
   * source or target module is down, re-routes when the path changed, and reuses its
   * converters where it did not. Runs on the queue.
   */
  async recover(flow: FlowRecord): Promise<void> {
    const { flows, builder, caller, entities } = this.#options;
    if (!flow.wanted || this.#options.tasks.closed || !flows.has(flow.id)) return;
    const source = entities.get(flow.sourceEntityId);
    const target = entities.get(flow.targetEntityId);
    if (!source || !target) {
      // A discovered entity is known again once its module lists it.
      await builder.teardown(flow);
      const missing = !source ? flow.sourceEntityId : flow.targetEntityId;
      const module = flows.moduleOfEntity(flow, missing);
      if (module && (!this.#handled.get(module)?.running || flow.discovered.includes(missing))) {
        this.#wait(flow, [module], `entity "${missing}" of `);
      } else {
        flows.setState(
          flow,
          FlowState.FAILED,
          `entity "${missing}" no longer exists${
            module ? ` (module "${module}" does not list it)` : ""
          }`,
        );
      }
      return;
    }
    const down = [source.module, target.module].filter((m) => !caller.isRunning(m));
    if (down.length > 0) {
      await builder.teardown(flow);
      this.#wait(flow, [...new Set(down)]);
      return;
    }
    let paths: MediaPath[];
    try {
      paths = this.#findPaths(flow).paths;
    } catch (err) {
      await builder.teardown(flow);
      if (!(err instanceof NoPathError)) throw err;
      // Would the converters of modules that are down serve?
      let waitingOn: string[] = [];
      try {
        const all = this.#findPaths(flow, true).paths;
        waitingOn = [
          ...new Set(all.flatMap((p) => p.hops.map((h) => h.module))),
        ].filter((m) => !caller.isRunning(m));
      } catch {
        // No path even with every module.
      }
      if (waitingOn.length > 0) this.#wait(flow, waitingOn);
      else flows.setState(flow, FlowState.FAILED, err.message);
      return;
    }
    await builder.teardown(flow);
    const before = describeRoute(flow.paths);
    const reused = flow.converters.filter((id) => entities.get(id));
    try {
      await builder.establish(flow, paths, reused);
    } catch (err) {
      const module = err instanceof ModuleCallError ? err.module : "";
      if (module && !caller.isRunning(module)) {
        this.#wait(flow, [module]);
      } else {
        flows.setState(flow, FlowState.FAILED, `cannot re-establish: ${(err as Error).message}`);
      }
      return;
    }
    const after = describeRoute(flow.paths);
    const rerouted = before !== "" && before !== after;
    if (rerouted) {
      this.#options.bus.publish({
        type: "flow.rerouted",
        severity: Severity.WARNING,
        flowId: flow.id,
        message: `flow "${flow.id}" re-routed: ${before} => ${after}`,
        data: { from: before, to: after },
      });
    }
    flows.setState(flow, FlowState.ACTIVE, rerouted ? `re-routed: ${after}` : "re-established");
  }

  #findPaths(flow: FlowRecord, anyState = false) {
    const { caps, entities } = this.#options;
    return findFlowPaths({
      caps,
      entities,
      sourceId: flow.sourceEntityId,
      targetId: flow.targetEntityId,
      anyState,
      targetProtocol: flow.targetProtocol,
      avoid: flow.avoid,
    });
  }

  /** Called on every module state change: notes ups and downs, queues their handling. */
  #observe(name: string, state: ModuleState): void {
    const { caps, caller, entities, tasks } = this.#options;
    caps.remember(name);
    const running = SERVING_STATES.has(state);
    const seen = this.#seen.get(name) ?? { running: false, ups: 0 };
    this.#seen.set(name, seen);
    if (running && !seen.running) seen.ups++;
    const changed = running !== seen.running;
    seen.running = running;
    if (!running && changed) {
      entities.setOffline(name, `module "${name}" is ${caller.describe(name)}`);
    }
    // A module that is down and changes state again (BACKOFF -> FAILED) may change
    // what its waiting flows say, so those changes are handled too.
    if (changed || !running) tasks.background(`module ${name} sync`, () => this.#syncModule(name));
  }

  /** Handles, on the queue, what was observed of a module since the last time. */
  async #syncModule(name: string): Promise<void> {
    const seen = this.#seen.get(name)!;
    const handled = this.#handled.get(name) ?? { running: false, ups: 0 };
    this.#handled.set(name, handled);
    if (handled.running && (!seen.running || handled.ups !== seen.ups)) {
      handled.running = false;
      await this.#onModuleDown(name);
    } else if (!seen.running) {
      await this.#refreshWaiting(name);
    }
    if (seen.running && !handled.running) {
      handled.running = true;
      handled.ups = seen.ups;
      await this.#reconcile(name);
    }
  }

  /** Marks the flows through a module that went down DEGRADED and recovers them. */
  async #onModuleDown(name: string): Promise<void> {
    const reason = `module "${name}" is ${this.#options.caller.describe(name)}`;
    for (const flow of this.#options.flows.sorted()) {
      if (!this.#options.flows.involves(flow, name)) continue;
      flow.established = false;
      if (!flow.wanted) continue;
      this.#options.flows.setState(flow, FlowState.DEGRADED, reason);
      await this.recover(flow);
    }
  }

  /** Updates the flows waiting on a module that is still down (e.g. now FAILED). */
  async #refreshWaiting(name: string): Promise<void> {
    for (const flow of this.#options.flows.sorted()) {
      if (flow.wanted && !flow.established && this.#options.flows.involves(flow, name)) {
        await this.recover(flow);
      }
    }
  }

  /**
   * Recreates a running module's desired entities and takes the ones it discovered, then
   * rebuilds every flow that should run and is not established (the module may be on
   * its path, or offer a converter or an entity it was waiting for).
   */
  async #reconcile(module: string): Promise<void> {
    const failed = await this.#options.entities.reconcile(module);
    for (const [id, error] of failed) {
      this.#options.logger.warn("cannot recreate an entity", { module, entity: id, error });
    }
    for (const flow of this.#options.flows.sorted()) {
      if (flow.wanted && !flow.established) await this.recover(flow);
    }
  }

  /** Queues one reconcile of a running module whose entities changed. */
  #scheduleReconcile(module: string): void {
    if (this.#reconciling.has(module)) return;
    this.#reconciling.add(module);
    this.#options.tasks.background(`reconcile ${module}`, async () => {
      this.#reconciling.delete(module);
      if (this.#options.caller.isRunning(module) && this.#handled.get(module)?.running) {
        await this.#reconcile(module);
      }
    });
  }

  /**
   * DEGRADED while the modules may still come back (or run and were not reconciled
   * yet), FAILED when none of them will on its own.
   */
  #wait(flow: FlowRecord, modules: string[], what = ""): void {
    const { caller } = this.#options;
    const coming = modules.some((m) => {
      const state = this.#options.modules.state(m);
      return state !== undefined && (COMING_STATES.has(state) || SERVING_STATES.has(state));
    });
    const list = modules.map((m) => `"${m}" (${caller.describe(m)})`).join(", ");
    this.#options.flows.setState(
      flow,
      coming ? FlowState.DEGRADED : FlowState.FAILED,
      `${coming ? "waiting for" : "cannot recover without"} ${what}module${
        modules.length > 1 ? "s" : ""
      } ${list}`,
    );
  }
}
