/**
 * The module registry: every known module by name, and the one place module states
 * change, so every transition becomes an event with its reason.
 */
import { ModuleState, Severity } from "@callassistant/protocol";
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

const SERVING = new Set([ModuleState.READY, ModuleState.DEGRADED]);

/** All modules, with state transitions published on the event bus. */
export class ModuleRegistry {
  private readonly records = new Map<string, ModuleRecord>();
  private readonly watchers = new Set<(record: ModuleRecord) => void>();
  private readonly replicaWatchers = new Set<(module: string) => void>();

  constructor(private readonly bus: EventBus, private readonly logger: Logger) {}

  /** Adds a record (replacing one of the same name). */
  add(record: ModuleRecord): ModuleRecord {
    this.records.set(record.name, record);
    return record;
  }

  /** Removes a record. */
  remove(name: string): void {
    this.records.delete(name);
  }

  /** The record of `name`, if any. */
  get(name: string): ModuleRecord | undefined {
    return this.records.get(name);
  }

  /** Every record, sorted by name. */
  list(): ModuleRecord[] {
    return [...this.records.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * The record holding `token` (a module's, or one of its other instances', from its
   * standard input or its environment), if any.
   */
  byToken(token: string): ModuleRecord | undefined {
    if (!token) return undefined;
    for (const r of this.records.values()) {
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
    if (record.replicaIndex > 0) return this.setReplicaState(record, state, reason);
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
      this.logger.log(level, "module state changed", fields);
      this.bus.publish({
        type: "module.state_changed",
        severity: SEVERITY[state] ?? Severity.INFO,
        module: record.name,
        message: `${record.name}: ${moduleStateName(from)} -> ${moduleStateName(state)}: ${reason}`,
        data: { from: moduleStateName(from), to: moduleStateName(state), reason },
      });
    }
    for (const w of this.watchers) w(record);
  }

  /** Calls `fn` after every state change until the returned function is called. */
  watch(fn: (record: ModuleRecord) => void): () => void {
    this.watchers.add(fn);
    return () => this.watchers.delete(fn);
  }

  /**
   * Calls `fn` with the module's name whenever one of its other instances starts or stops
   * serving, until the returned function is called.
   */
  watchReplicas(fn: (module: string) => void): () => void {
    this.replicaWatchers.add(fn);
    return () => this.replicaWatchers.delete(fn);
  }

  private setReplicaState(record: ModuleRecord, state: ModuleState, reason: string): void {
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
    this.logger.log(
      state === ModuleState.FAILED ? "error" : "info",
      "replica state changed",
      fields,
    );
    this.bus.publish({
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
    if (SERVING.has(from) !== SERVING.has(state)) {
      for (const w of this.replicaWatchers) w(record.name);
    }
  }
}
