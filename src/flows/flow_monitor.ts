/**
 * Watching established flows: the periodic GetFlowStatus check, the modules' own
 * ReportStatus accounts (which also confirm quality changes), and the live status
 * reads of GetFlow. A module that lost a flow or reports it failed or stopped has the
 * flow rebuilt.
 */
import { create, equals, type JsonValue, toJson } from "@bufbuild/protobuf";
import type { ReportStatusRequest } from "@callassistant/protocol";
import {
  FlowState,
  type FlowStatus,
  FlowStatusSchema,
  type MediaStats,
  QualityProfileSchema,
} from "@callassistant/protocol";
import type { EventBus } from "../events/event_bus.ts";
import type { Logger } from "../log/logger.ts";
import { Code } from "@callassistant/rpc";
import { type ModuleCaller, ModuleCallError } from "../module_calls/module_caller.ts";
import type { EntityRegistry } from "../entities/entity_registry.ts";
import type { FlowRecovery } from "./flow_recovery.ts";
import { type FlowRecord, type FlowRecords, flowStateName, statusWith } from "./flow_records.ts";
import type { FlowTasks } from "./flow_tasks.ts";
import { isMediaOnly, mergeFlowStatus } from "./flow_media.ts";
import { describeQuality } from "./quality.ts";

/** Deadline of the live status reads of GetFlow and the monitor. */
const STATUS_TIMEOUT_MS = 3_000;

/** What the monitor needs. */
export interface FlowMonitorOptions {
  flows: FlowRecords;
  recovery: FlowRecovery;
  tasks: FlowTasks;
  caller: ModuleCaller;
  entities: EntityRegistry;
  bus: EventBus;
  logger: Logger;
  /** How often ACTIVE flows are checked with GetFlowStatus; 0 turns it off. Default 5 s. */
  intervalMs?: number;
  /** The media watchdog: told of every media report; its DEGRADED is not lifted here. */
  media?: {
    onMedia(flow: FlowRecord, module: string, media: MediaStats[]): void;
    holds(flow: FlowRecord): boolean;
  };
}

/** Checks flows with their modules and reacts to what the modules say. */
export class FlowMonitor {
  #timer?: ReturnType<typeof setTimeout>;

  readonly #options: FlowMonitorOptions;

  constructor(options: FlowMonitorOptions) {
    this.#options = options;
  }

  /** Schedules the periodic check (unless turned off or shut down). */
  start(): void {
    const interval = this.#options.intervalMs ?? 5_000;
    if (interval <= 0 || this.#options.tasks.closed) return;
    this.#timer = setTimeout(async () => {
      try {
        await this.check();
      } catch (err) {
        this.#options.logger.warn("flow monitor failed", { error: String(err) });
      }
      this.start();
    }, interval);
  }

  /** Cancels the next periodic check. */
  stop(): void {
    clearTimeout(this.#timer);
  }

  /** Asks every module of every established flow for its status; lost flows are rebuilt. */
  async check(): Promise<void> {
    const { flows, tasks, caller } = this.#options;
    for (const flow of flows.sorted()) {
      // Builds in progress are not judged half-done.
      if (!tasks.idle) return;
      if (tasks.closed) return;
      if (!flow.wanted || !flow.established) continue;
      for (const module of flows.modulesOf(flow)) {
        if (!caller.isRunning(module)) continue;
        try {
          this.#judge(flow, module, await this.#fetchStatus(flow, module));
        } catch (err) {
          if (err instanceof ModuleCallError && err.code === Code.NOT_FOUND) {
            this.#judge(
              flow,
              module,
              create(FlowStatusSchema, {
                flowId: flow.id,
                module,
                state: FlowState.FAILED,
                message: "the module does not know the flow",
              }),
            );
          }
        }
      }
    }
  }

  /** The flow's live status on every module involved (GetFlowStatus, in parallel). */
  async liveStatuses(flow: FlowRecord): Promise<FlowStatus[]> {
    const { flows, caller } = this.#options;
    return await Promise.all(
      flows.modulesOf(flow).map(async (module) => {
        if (!caller.isRunning(module)) {
          return create(FlowStatusSchema, {
            flowId: flow.id,
            module,
            state: FlowState.FAILED,
            message: `module "${module}" is not running (${caller.describe(module)})`,
          });
        }
        try {
          return await this.#fetchStatus(flow, module);
        } catch (err) {
          return create(FlowStatusSchema, {
            flowId: flow.id,
            module,
            state: flow.reported.get(module)?.state ?? FlowState.UNSPECIFIED,
            message: `status unavailable: ${(err as Error).message}`,
            quality: flow.reported.get(module)?.quality,
          });
        }
      }),
    );
  }

  /**
   * Takes a module's ReportStatus: entity states, and flow statuses (the quality a
   * module reports confirms an AdjustQuality). Never throws.
   */
  onModuleStatus(module: string, report: ReportStatusRequest): void {
    const { flows, entities, bus, logger } = this.#options;
    try {
      for (const status of report.entities) entities.applyStatus(module, status);
      for (const reported of report.flows) {
        const flow = flows.get(reported.flowId);
        if (!flow || !flows.involves(flow, module)) continue;
        const before = flow.reported.get(module);
        const status = mergeFlowStatus(before, reported, module);
        flow.reported.set(module, status);
        this.#options.media?.onMedia(flow, module, reported.media);
        // Media alone says nothing of the module's state or quality.
        if (isMediaOnly(reported)) continue;
        if (
          status.quality &&
          (flow.unconfirmed.has(module) ||
            !before?.quality || !equals(QualityProfileSchema, before.quality, status.quality))
        ) {
          flow.unconfirmed.delete(module);
          bus.publish({
            type: "flow.quality_applied",
            module,
            flowId: flow.id,
            message: `module "${module}" applies ${
              describeQuality(status.quality)
            } to flow "${flow.id}"`,
            data: toJson(QualityProfileSchema, status.quality) as { [k: string]: JsonValue },
          });
        }
        this.#judge(flow, module, status);
      }
    } catch (err) {
      logger.warn("bad status report", { module, error: String(err) });
    }
  }

  /** GetFlowStatus on one module; the answer becomes the module's last reported status. */
  async #fetchStatus(flow: FlowRecord, module: string): Promise<FlowStatus> {
    const res = await this.#getFlowStatus(flow, module);
    const answered = statusWith(res.status, { flowId: flow.id });
    const status = mergeFlowStatus(flow.reported.get(module), answered, module);
    flow.reported.set(module, status);
    this.#options.media?.onMedia(flow, module, answered.media);
    return status;
  }

  #getFlowStatus(flow: FlowRecord, module: string) {
    return this.#options.caller.call(
      module,
      "GetFlowStatus",
      (c, o) => c.pipeline.getFlowStatus({ flowId: flow.id }, o),
      STATUS_TIMEOUT_MS,
    );
  }

  /** Reacts to a module's account of a flow: a lost or failed flow is checked and rebuilt. */
  #judge(flow: FlowRecord, module: string, status: FlowStatus): void {
    const { flows, tasks } = this.#options;
    if (!flow.wanted || !flow.established) return;
    if (status.state === FlowState.FAILED || status.state === FlowState.STOPPED) {
      tasks.background(`check flow ${flow.id}`, () => this.#verify(flow, module));
    } else if (status.state === FlowState.DEGRADED && flow.state === FlowState.ACTIVE) {
      flows.setState(flow, FlowState.DEGRADED, `module "${module}" reports: ${status.message}`);
    } else if (
      status.state === FlowState.ACTIVE && flow.state === FlowState.DEGRADED &&
      !this.#options.media?.holds(flow)
    ) {
      const others = [...flow.reported.values()].filter((s) => s.module !== module);
      if (others.every((s) => s.state !== FlowState.DEGRADED)) {
        flows.setState(flow, FlowState.ACTIVE, "every module reports the flow active");
      }
    }
  }

  /**
   * Asks the module again (on the queue, so no build is in progress) and rebuilds the
   * flow when the module lost it or reports it failed or stopped.
   */
  async #verify(flow: FlowRecord, module: string): Promise<void> {
    if (!flow.wanted || !flow.established || !this.#options.flows.has(flow.id)) return;
    let reason = "";
    try {
      const res = await this.#getFlowStatus(flow, module);
      const state = res.status?.state ?? FlowState.UNSPECIFIED;
      if (state === FlowState.FAILED || state === FlowState.STOPPED) {
        reason = `module "${module}" reports the flow ${flowStateName(state)}${
          res.status?.message ? `: ${res.status.message}` : ""
        }`;
      }
    } catch (err) {
      if (err instanceof ModuleCallError && err.code === Code.NOT_FOUND) {
        reason = `module "${module}" lost the flow`;
      }
    }
    if (!reason) return;
    flow.established = false;
    this.#options.flows.setState(flow, FlowState.DEGRADED, reason);
    await this.#options.recovery.recover(flow);
  }
}
