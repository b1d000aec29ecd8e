/**
 * The module registry: every known module by name, and the one place module states and
 * module health change, so every transition becomes an event with its reason.
 */
import { HealthState, ModuleState, Severity } from "@callassistant/protocol";
import type { EventBus } from "../events/event_bus.ts";
import type { Logger } from "../log/logger.ts";
import type { ModuleRecord } from "./module_record.ts";

/** A state name without the enum prefix, e.g. "READY". */
export function moduleStateName(state: ModuleState): string {
  return ModuleState[state] ?? String(state);
}

const SEVERITY: Partial<Record<ModuleState, Severity>> = {
  [ModuleState.FAILED]: Severity.ERROR,
  [ModuleState.BACKOFF]: Severity.WARNING,
  [ModuleState.DEGRADED]: Severity.WARNING,
};

/** The states in which a module serves calls (READY and DEGRADED). */
export const SERVING_STATES: ReadonlySet<ModuleState> = new Set([
  ModuleState.READY,
  ModuleState.DEGRADED,
]);

/** All modules, with state transitions published on the event bus. */
export class ModuleRegistry {
  readonly #records = new Map<string, ModuleRecord>();
  readonly #watchers = new Set<(record: ModuleRecord) => void>();
  readonly #replicaWatchers = new Set<(module: string) => void>();

  readonly #bus: EventBus;
  readonly #logger: Logger;

  constructor(bus: EventBus, logger: Logger) {
    this.#bus = bus;
    this.#logger = logger;
  }

  /** Adds a record (replacing one of the same name). */
  add(record: ModuleRecord): ModuleRecord {
    this.#records.set(record.name, record);
    return record;
  }

  /** Removes a record. */
  remove(name: string): void {
    this.#records.delete(name);
  }

  /** The record of `name`, if any. */
  get(name: string): ModuleRecord | undefined {
    return this.#records.get(name);
  }

  /** Every record, sorted by name. */
  list(): ModuleRecord[] {
    return [...this.#records.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * The record holding `token` (a module's, or one of its other instances', from its
   * standard input or its environment), if any.
   */
  byToken(token: string): ModuleRecord | undefined {
    if (!token) return undefined;
    for (const r of this.#records.values()) {
      for (const instance of [r, ...r.replicas]) {
        if (instance.token === token || instance.legacyToken === token) return instance;
      }
    }
    return undefined;
  }

  /**
   * Moves a module (or one of its other instances) to `state`, logging and publishing the
   * transition with its reason.
   */
  setState(record: ModuleRecord, state: ModuleState, reason: string): void {
    if (record.replicaIndex > 0) return this.#setReplicaState(record, state, reason);
    const from = record.state;
    record.state = state;
    record.stateChangedAt = new Date();
    if (state === ModuleState.FAILED || state === ModuleState.BACKOFF) record.lastError = reason;
    if (state === ModuleState.READY) record.lastError = "";
    if (from !== state) {
      const fields = {
        module: record.name,
        from: moduleStateName(from),
        to: moduleStateName(state),
        reason,
      };
      const level = state === ModuleState.FAILED ? "error" : "info";
      this.#logger.log(level, "module state changed", fields);
      this.#bus.publish({
        type: "module.state_changed",
        severity: SEVERITY[state] ?? Severity.INFO,
        module: record.name,
        message: `${record.name}: ${moduleStateName(from)} -> ${moduleStateName(state)}: ${reason}`,
        data: { from: moduleStateName(from), to: moduleStateName(state), reason },
      });
    }
    for (const w of this.#watchers) w(record);
  }

  /** Forgets a module's health (at each start: the new process has not been checked yet). */
  resetHealth(record: ModuleRecord): void {
    record.health = {
      state: HealthState.UNSPECIFIED,
      message: "",
      checkedAt: undefined,
      failures: 0,
    };
  }

  /**
   * Records the result of a health check by the orchestrator: the state it answered (an
   * unknown one counts as UNHEALTHY), or, when the check failed, only `message`. Returns
   * the recorded state (undefined when the check failed). Publishes nothing: the runner
   * turns checks into module states.
   */
  recordHealthCheck(
    record: ModuleRecord,
    state: HealthState | undefined,
    message: string,
  ): HealthState | undefined {
    record.health.checkedAt = new Date();
    if (state === undefined) {
      record.health.message = message;
      return undefined;
    }
    const known = Object.values(HealthState).includes(state);
    record.health.state = known ? state : HealthState.UNHEALTHY;
    record.health.message = known ? message : `unknown health state ${state}`;
    return record.health.state;
  }

  /**
   * Counts a failed health check (`failed`), or clears the count after a good one;
   * returns the failures in a row.
   */
  countHealthFailure(record: ModuleRecord, failed: boolean): number {
    record.health.failures = failed ? record.health.failures + 1 : 0;
    return record.health.failures;
  }

  /**
   * Records the health a module reported itself (ReportStatus); a change is published as
   * `module.health_changed`. UNSPECIFIED leaves the health as it is.
   */
  reportHealth(record: ModuleRecord, state: HealthState, message: string): void {
    if (state === HealthState.UNSPECIFIED) return;
    const before = record.health.state;
    record.health.state = state;
    record.health.message = message;
    record.health.checkedAt = new Date();
    if (before === state) return;
    this.#bus.publish({
      type: "module.health_changed",
      severity: state === HealthState.UNHEALTHY || state === HealthState.DEGRADED
        ? Severity.WARNING
        : Severity.INFO,
      module: record.name,
      message: `${record.name} reports ${HealthState[state]}${message ? `: ${message}` : ""}`,
      data: { from: HealthState[before] ?? String(before), to: HealthState[state], message },
      traceId: "",
    });
  }

  /** Calls `fn` after every state change until the returned function is called. */
  watch(fn: (record: ModuleRecord) => void): () => void {
    this.#watchers.add(fn);
    return () => this.#watchers.delete(fn);
  }

  /**
   * Calls `fn` with the module's name whenever one of its other instances starts or stops
   * serving, until the returned function is called.
   */
  watchReplicas(fn: (module: string) => void): () => void {
    this.#replicaWatchers.add(fn);
    return () => this.#replicaWatchers.delete(fn);
  }

  #setReplicaState(record: ModuleRecord, state: ModuleState, reason: string): void {
    const from = record.state;
    record.state = state;
    record.stateChangedAt = new Date();
    if (state === ModuleState.FAILED || state === ModuleState.BACKOFF) record.lastError = reason;
    if (state === ModuleState.READY) record.lastError = "";
    if (from === state) return;
    const fields = {
      module: record.name,
      replica: record.replicaIndex,
      from: moduleStateName(from),
      to: moduleStateName(state),
      reason,
    };
    this.#logger.log(
      state === ModuleState.FAILED ? "error" : "info",
      "replica state changed",
      fields,
    );
    this.#bus.publish({
      type: "module.replica_state_changed",
      severity: SEVERITY[state] ?? Severity.INFO,
      module: record.name,
      message: `${record.name}@${record.replicaIndex}: ${moduleStateName(from)} -> ${
        moduleStateName(state)
      }: ${reason}`,
      data: {
        replica: record.replicaIndex,
        from: moduleStateName(from),
        to: moduleStateName(state),
        reason,
      },
    });
    if (SERVING_STATES.has(from) !== SERVING_STATES.has(state)) {
      for (const w of this.#replicaWatchers) w(record.name);
    }
  }
}
