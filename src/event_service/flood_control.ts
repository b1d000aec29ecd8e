/**
 * Flood control of module reports: each module process has a token bucket for events and
 * one for the other reports (status, metrics). Past it a report is refused with
 * RESOURCE_EXHAUSTED and an event says so (at most one per 10 s per module). Events that
 * are accepted are logged within a third rate, so a module allowed many events cannot
 * flood the orchestrator log; the next line logged says how many were left out.
 */
import { type Event, Severity } from "@callassistant/protocol";
import { Code, RpcError, runWithTrace } from "@callassistant/rpc";
import { type Rate, TokenBucket } from "../async/token_bucket.ts";
import type { EventBus } from "../events/event_bus.ts";
import type { Logger } from "../log/logger.ts";

/** What is rate-limited: events, or status and metrics reports. */
export type ReportKind = "event" | "status" | "metrics";

/** The rates of {@link FloodControl}. */
export interface FloodRates {
  /** Events each module may send. */
  eventRate: Rate;
  /** Status and metrics reports each module may send. */
  reportRate: Rate;
  /** "module event" log lines per module (used only when `eventRate` is higher). */
  logRate: Rate;
}

/** How often a throttled module gets another "throttled" event at most. */
const THROTTLE_NOTICE_MS = 10_000;

const SEVERITY_NAMES: Record<number, string> = {
  [Severity.UNSPECIFIED]: "INFO",
  [Severity.DEBUG]: "DEBUG",
  [Severity.INFO]: "INFO",
  [Severity.WARNING]: "WARNING",
  [Severity.ERROR]: "ERROR",
  [Severity.CRITICAL]: "CRITICAL",
};
const LOG_LEVEL = {
  [Severity.UNSPECIFIED]: "info",
  [Severity.DEBUG]: "debug",
  [Severity.INFO]: "info",
  [Severity.WARNING]: "warn",
  [Severity.ERROR]: "error",
  [Severity.CRITICAL]: "error",
} as const;

/** The buckets and counters of one module process. */
export interface ModuleLimits {
  readonly module: string;
  readonly events: TokenBucket;
  readonly reports: TokenBucket;
  /** Event log lines this module may still write (see `logRate`). */
  readonly logLines: TokenBucket;
  /** Accepted events not logged since the last line written. */
  unlogged: number;
  /** Reports refused since the last "throttled" event. */
  dropped: number;
  lastNotice: number;
}

/** The flood-control rules, shared by every module's {@link ModuleLimits}. */
export class FloodControl {
  /** When events are limited at least as tightly as log lines, every event is logged. */
  readonly #limitLogs: boolean;

  readonly #bus: EventBus;
  readonly #logger: Logger | undefined;
  readonly #onThrottled?: (module: string, kind: ReportKind) => void;

  constructor(
    readonly rates: FloodRates,
    bus: EventBus,
    logger: Logger | undefined,
    onThrottled?: (module: string, kind: ReportKind) => void,
  ) {
    this.#bus = bus;
    this.#logger = logger;
    this.#onThrottled = onThrottled;
    const { eventRate, logRate } = rates;
    this.#limitLogs = eventRate.perSecond > logRate.perSecond || eventRate.burst > logRate.burst;
  }

  /** Fresh limits for a new module process. */
  limitsFor(module: string): ModuleLimits {
    return {
      module,
      events: new TokenBucket(this.rates.eventRate),
      reports: new TokenBucket(this.rates.reportRate),
      logLines: new TokenBucket(this.rates.logRate),
      unlogged: 0,
      dropped: 0,
      lastNotice: -Infinity,
    };
  }

  /** Takes a token for one report of `kind`; throws RESOURCE_EXHAUSTED when over the rate. */
  admit(limits: ModuleLimits, kind: ReportKind): void {
    const bucket = kind === "event" ? limits.events : limits.reports;
    if (!bucket.take()) throw this.#throttled(limits, kind);
  }

  /** Counts a refused report, announces it (at most every 10 s), and returns its error. */
  #throttled(limits: ModuleLimits, kind: ReportKind): RpcError {
    limits.dropped++;
    this.#onThrottled?.(limits.module, kind);
    const r = kind === "event" ? this.rates.eventRate : this.rates.reportRate;
    const now = performance.now();
    if (now - limits.lastNotice >= THROTTLE_NOTICE_MS) {
      const first = limits.lastNotice === -Infinity;
      const module = limits.module;
      runWithTrace(undefined, () =>
        this.#bus.publish({
          type: "module.events_throttled",
          severity: Severity.WARNING,
          module,
          message: `${module} reports faster than ${r.perSecond}/s (bursts of ${r.burst}): ` +
            `${limits.dropped} report(s) refused${first ? "" : " in the last 10 s"}`,
          data: { dropped: limits.dropped, perSecond: r.perSecond, burst: r.burst, kind },
          traceId: "",
        }));
      this.#logger?.warn("module throttled", { module, dropped: limits.dropped, kind });
      limits.lastNotice = now;
      limits.dropped = 0;
    }
    return new RpcError(
      Code.RESOURCE_EXHAUSTED,
      `too many reports (${kind}): at most ${r.perSecond}/s with bursts of ${r.burst}`,
    );
  }

  /** Logs an accepted event (one line), within the module's log rate. */
  logEvent(limits: ModuleLimits, event: Event): void {
    const logger = this.#logger;
    if (!logger) return;
    if (this.#limitLogs && !limits.logLines.take()) {
      limits.unlogged++;
      return;
    }
    const { logRate } = this.rates;
    if (limits.unlogged > 0) {
      logger.warn("module events not logged", {
        module: limits.module,
        count: limits.unlogged,
        reason: `more than ${logRate.perSecond} events/s (bursts of ${logRate.burst})`,
      });
      limits.unlogged = 0;
    }
    logger.log(LOG_LEVEL[event.severity as keyof typeof LOG_LEVEL] ?? "info", "module event", {
      module: limits.module,
      type: event.type,
      severity: SEVERITY_NAMES[event.severity] ?? String(event.severity),
      event_id: String(event.id),
      message: event.message,
      entity_id: event.entityId || undefined,
      flow_id: event.flowId || undefined,
      trace_id: event.traceId || undefined,
    });
  }
}
