/**
 * The entity and flow area, assembled: capability index, entity registry and flow
 * manager over the modules, persisted in the store.
 *
 * ```ts
 * const pipeline = createPipeline({ modules: supervisorModules(registry, supervisor), bus, logger, store });
 * pipeline.flows.activate();      // before the modules start
 * ...
 * await pipeline.close();         // before the modules stop
 * ```
 */
import type { EventBus } from "../events/event_bus.ts";
import type { Logger } from "../log/logger.ts";
import type { Store } from "../store/store.ts";
import { CapabilityIndex } from "../entities/capabilities.ts";
import { ModuleCaller, type ModuleDirectory } from "../module_calls/module_caller.ts";
import { MODULE_CALL_TIMEOUT_MS } from "../module_calls/module_clients.ts";
import { EntityRegistry } from "../entities/entity_registry.ts";
import type { StoredEntity } from "../entities/entity_store.ts";
import { FlowManager } from "./flow_manager.ts";
import type { StoredFlow } from "./flow_records.ts";

/** What the area needs. */
export interface PipelineOptions {
  modules: ModuleDirectory;
  bus: EventBus;
  logger: Logger;
  /** Where desired entities and flows are persisted; in memory only when unset. */
  store?: Store;
  /** Deadline of calls to modules (default 30 s). */
  callTimeoutMs?: number;
  /** How often established flows are checked with GetFlowStatus (default 5 s, 0 off). */
  monitorIntervalMs?: number;
  /** How often the media watchdog judges flows (default 500 ms, 0 off). */
  watchdogIntervalMs?: number;
}

/** The assembled area. */
export interface Pipeline {
  caps: CapabilityIndex;
  caller: ModuleCaller;
  entities: EntityRegistry;
  flows: FlowManager;
  /** Entity and flow counts for the system status. */
  counts: { entities(): number; flows(): number };
  /** Stops reacting to modules; call before stopping them. */
  close(): Promise<void>;
}

/** Builds the area and loads the persisted entities (flows load in `flows.activate()`). */
export function createPipeline(options: PipelineOptions): Pipeline {
  const caps = new CapabilityIndex(options.modules);
  const caller = new ModuleCaller(
    options.modules,
    options.callTimeoutMs ?? MODULE_CALL_TIMEOUT_MS,
  );
  const entities = new EntityRegistry({
    caps,
    caller,
    bus: options.bus,
    logger: options.logger,
    store: options.store?.collection<StoredEntity>("entities"),
  });
  entities.load();
  const flows = new FlowManager({
    modules: options.modules,
    caps,
    caller,
    entities,
    bus: options.bus,
    logger: options.logger,
    store: options.store?.collection<StoredFlow>("flows"),
    monitorIntervalMs: options.monitorIntervalMs,
    watchdogIntervalMs: options.watchdogIntervalMs,
  });
  return {
    caps,
    caller,
    entities,
    flows,
    counts: { entities: () => entities.count(), flows: () => flows.count() },
    close: () => flows.close(),
  };
}
