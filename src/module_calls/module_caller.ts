/**
 * What the entity and flow areas need from the modules: their states, registrations and
 * gRPC clients, and state-change notifications. `supervisorModules` adapts the
 * orchestrator's registry and supervisor; tests supply in-memory modules.
 */
import type { RegisterModuleResponse } from "@callassistant/protocol";
import { ModuleState } from "@callassistant/protocol";
import type { ModuleRegistry } from "../modules/module_registry.ts";
import { moduleStateName, SERVING_STATES } from "../modules/module_registry.ts";
import { Code, RpcError, toRpcError } from "@callassistant/rpc";
import type { CallOptions } from "@callassistant/rpc";
import { MODULE_CALL_TIMEOUT_MS, type ModuleClients } from "./module_clients.ts";

/** The clients the entity and flow areas call. */
export type EntityPipelineClients = Pick<ModuleClients, "entity" | "pipeline">;

/** A read-only view of the modules, with notifications. */
export interface ModuleDirectory {
  /** Every module name. */
  names(): string[];
  /** The module's state; undefined for an unknown module. */
  state(name: string): ModuleState | undefined;
  /** Why the module is in its state (for messages). */
  reason(name: string): string;
  /** What the current (or last) process registered; undefined before it registered. */
  registration(name: string): RegisterModuleResponse | undefined;
  /** Clients of the running module; undefined when it is not running. */
  clients(name: string): EntityPipelineClients | undefined;
  /**
   * The manifest's `media.stall_timeout` in ms; undefined when unset (or for modules
   * without a manifest). Optional: a directory without it has no per-module default.
   */
  stallTimeoutMs?(name: string): number | undefined;
  /** Calls `fn` after every module state change until the returned function is called. */
  watch(fn: (name: string, state: ModuleState) => void): () => void;
}

/** States from which a module may reach READY without anyone's help. */
export const COMING_STATES: ReadonlySet<ModuleState> = new Set([
  ModuleState.PENDING,
  ModuleState.STARTING,
  ModuleState.BACKOFF,
  ModuleState.WAITING_FOR_CONFIG,
]);

/** The orchestrator's modules as a ModuleDirectory. */
export function supervisorModules(
  registry: ModuleRegistry,
  supervisor: { clientsOf(name: string): EntityPipelineClients | undefined },
): ModuleDirectory {
  return {
    names: () => registry.list().map((r) => r.name),
    state: (name) => registry.get(name)?.state,
    reason: (name) => registry.get(name)?.lastError ?? "",
    registration: (name) => registry.get(name)?.registration,
    clients: (name) => supervisor.clientsOf(name),
    stallTimeoutMs: (name) => registry.get(name)?.manifest?.media?.stallTimeoutMs,
    watch(fn) {
      const unwatch = registry.watch((record) => fn(record.name, record.state));
      // Another instance of a replicated module started or stopped serving: the entities
      // and flows it held are gone, so the module is handled as if it had restarted.
      const unwatchReplicas = registry.watchReplicas((name) => {
        const state = registry.get(name)?.state;
        if (state === undefined || !SERVING_STATES.has(state)) return;
        fn(name, ModuleState.STARTING);
        fn(name, state);
      });
      return () => {
        unwatch();
        unwatchReplicas();
      };
    },
  };
}

/** An error of a call to a module, naming the module and the RPC. */
export class ModuleCallError extends RpcError {
  constructor(
    code: Code,
    readonly module: string,
    readonly method: string,
    /** The module's own message (or why it could not be reached). */
    readonly reason: string,
  ) {
    super(code, `${method} on module "${module}" failed: ${Code[code]}: ${reason}`);
    this.name = "ModuleCallError";
  }
}

/** Calls modules with deadlines and turns failures into ModuleCallErrors. */
export class ModuleCaller {
  constructor(readonly modules: ModuleDirectory, readonly timeoutMs = MODULE_CALL_TIMEOUT_MS) {}

  /** True when the module is READY or DEGRADED. */
  isRunning(name: string): boolean {
    const state = this.modules.state(name);
    return state !== undefined && SERVING_STATES.has(state);
  }

  /** "BACKOFF: exited with code 1" or "unknown": a module's state for messages. */
  describe(name: string): string {
    const state = this.modules.state(name);
    if (state === undefined) return "not known (removed?)";
    const reason = this.modules.reason(name);
    return reason ? `${moduleStateName(state)}: ${reason}` : moduleStateName(state);
  }

  /**
   * Calls `fn` with the module's clients and call options carrying the deadline.
   * FAILED_PRECONDITION when the module waits for its configuration, UNAVAILABLE when it
   * is not running.
   */
  async call<T>(
    module: string,
    method: string,
    fn: (clients: EntityPipelineClients, options: CallOptions) => Promise<T>,
    timeoutMs = this.timeoutMs,
  ): Promise<T> {
    if (this.modules.state(module) === ModuleState.WAITING_FOR_CONFIG) {
      // It runs, but a module that needs its configuration takes no entity or flow yet.
      throw new ModuleCallError(
        Code.FAILED_PRECONDITION,
        module,
        method,
        `module "${module}" is waiting for its configuration: configure it first ` +
          `(PUT /v1/modules/${module}/config, or its page in the dashboard)`,
      );
    }
    const clients = this.isRunning(module) ? this.modules.clients(module) : undefined;
    if (!clients) {
      throw new ModuleCallError(
        Code.UNAVAILABLE,
        module,
        method,
        `module "${module}" is not running (${this.describe(module)})`,
      );
    }
    try {
      return await fn(clients, { timeoutMs });
    } catch (err) {
      const rpc = toRpcError(err);
      throw new ModuleCallError(rpc.code, module, method, rpc.message);
    }
  }
}
