/**
 * The three reports a module sends (by a unary call or on its Connect stream): an event
 * (checked, rate-limited, published on the bus and logged), a status (its own health and
 * its flows' and entities' statuses) and metrics (kept for `/metrics`).
 */
import type { JsonObject } from "@bufbuild/protobuf";
import type {
  ReportEventRequest,
  ReportMetricsRequest,
  ReportStatusRequest,
  Severity,
} from "@callassistant/protocol";
import { HealthState } from "@callassistant/protocol";
import { Code, parseTraceparent, RpcError, runWithTrace } from "@callassistant/rpc";
import type { TraceContext } from "@callassistant/rpc";
import type { EventBus } from "../events/event_bus.ts";
import type { Logger } from "../log/logger.ts";
import type { ModuleMetricsStore } from "../metrics/module_metrics.ts";
import type { ModuleRecord } from "../modules/module_record.ts";
import type { ModuleRegistry } from "../modules/module_registry.ts";
import type { FloodControl, ModuleLimits } from "./flood_control.ts";

const TYPE = /^[a-zA-Z0-9_][a-zA-Z0-9_.:-]*$/;
const MAX_TYPE = 128;
const MAX_DATA_BYTES = 16 * 1024;

function dataSize(data: JsonObject | undefined): number {
  if (!data) return 0;
  try {
    return new TextEncoder().encode(JSON.stringify(data)).length;
  } catch {
    return Infinity;
  }
}

/** What {@link ModuleReports} needs. */
export interface ModuleReportsOptions {
  registry: ModuleRegistry;
  bus: EventBus;
  flood: FloodControl;
  moduleMetrics: ModuleMetricsStore;
  logger?: Logger;
  /** Told about every accepted event (for metrics). */
  onEvent?: (module: string, type: string, severity: Severity) => void;
  /** Told about every accepted status, after the module's health is recorded. */
  onStatus?: (module: string, request: ReportStatusRequest) => void;
}

/** Accepts module reports; each throws an RpcError when the report is refused. */
export class ModuleReports {
  readonly #options: ModuleReportsOptions;

  constructor(options: ModuleReportsOptions) {
    this.#options = options;
  }

  /** Accepts one event; returns its id. The event runs in its own trace, or `callTrace`. */
  event(
    record: ModuleRecord,
    limits: ModuleLimits,
    req: ReportEventRequest,
    callTrace: TraceContext | undefined,
  ): bigint {
    if (!req.type) throw new RpcError(Code.INVALID_ARGUMENT, "event type is required");
    if (req.type.length > MAX_TYPE || !TYPE.test(req.type)) {
      throw new RpcError(
        Code.INVALID_ARGUMENT,
        `event type "${req.type.slice(0, MAX_TYPE)}" is not valid: use a dotted name of ` +
          `letters, digits and _ . : - (at most ${MAX_TYPE} characters)`,
      );
    }
    const data = req.data as JsonObject | undefined;
    if (dataSize(data) > MAX_DATA_BYTES) {
      throw new RpcError(
        Code.INVALID_ARGUMENT,
        `event data is larger than ${MAX_DATA_BYTES} bytes as JSON`,
      );
    }
    const { flood, bus, onEvent } = this.#options;
    flood.admit(limits, "event");
    const trace = parseTraceparent(req.traceparent) ?? callTrace;
    return runWithTrace(trace, () => {
      const event = bus.publish({
        type: req.type,
        severity: req.severity,
        module: record.name,
        entityId: req.entityId,
        flowId: req.flowId,
        message: req.message,
        data,
        source: "module",
        traceId: trace?.traceId ?? "",
      });
      onEvent?.(record.name, req.type, event.severity);
      flood.logEvent(limits, event);
      return event.id;
    });
  }

  /** Accepts a status: records the module's health, then hands it to `onStatus`. */
  status(record: ModuleRecord, limits: ModuleLimits, req: ReportStatusRequest): void {
    const { flood, registry, onStatus, logger } = this.#options;
    flood.admit(limits, "status");
    if (!Object.values(HealthState).includes(req.state)) {
      throw new RpcError(Code.INVALID_ARGUMENT, `unknown health state ${req.state}`);
    }
    registry.reportHealth(record, req.state, req.message);
    for (const f of req.flows) f.module = record.name;
    if (onStatus) {
      try {
        onStatus(record.name, req);
      } catch (err) {
        logger?.error("status handler failed", {
          module: record.name,
          error: String((err as Error)?.stack ?? err),
        });
      }
    }
  }

  /** Accepts a metrics report. */
  metrics(record: ModuleRecord, limits: ModuleLimits, req: ReportMetricsRequest): void {
    this.#options.flood.admit(limits, "metrics");
    this.#options.moduleMetrics.report(record.name, record.token, req.metrics);
  }
}
