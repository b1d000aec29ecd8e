/**
 * The EventService for modules, wired from its parts: who is calling (`module_auth.ts`),
 * flood control (`flood_control.ts`), the reports (`module_reports.ts`), the per-process
 * channels (`module_channels.ts`), the Connect stream (`connect_stream.ts`) and commands
 * down the stream (`module_commands.ts`).
 *
 * - ReportEvent / ReportStatus / ReportMetrics: one report each.
 * - Connect: the same reports plus heartbeats upward, acks and commands downward.
 */
import type {
  CommandResult,
  EventService,
  ReportStatusRequest,
  Severity,
} from "@callassistant/protocol";
import type { CallContext, PartialServiceImpl } from "@callassistant/rpc";
import { Code, parseTraceparent, RpcError, runWithTrace } from "@callassistant/rpc";
import type { Rate } from "../async/token_bucket.ts";
import type { EventBus } from "../events/event_bus.ts";
import type { Logger } from "../log/logger.ts";
import { ModuleMetricsStore } from "../metrics/module_metrics.ts";
import type { ModuleRecord } from "../modules/module_record.ts";
import type { ModuleRegistry } from "../modules/module_registry.ts";
import { ConnectStreams } from "./connect_stream.ts";
import { FloodControl, type ReportKind } from "./flood_control.ts";
import { moduleAuthenticator } from "./module_auth.ts";
import { ChannelTable } from "./module_channels.ts";
import { type CommandInit, CommandSender } from "./module_commands.ts";
import { ModuleReports } from "./module_reports.ts";

/** Told about what the EventService accepts and refuses (for metrics). */
export interface EventServiceHooks {
  /** A module event was accepted. */
  onEvent?: (module: string, type: string, severity: Severity) => void;
  /** A module report was refused by flood control. */
  onThrottled?: (module: string, kind: ReportKind) => void;
}

/** Options of {@link createEventService}. */
export interface EventServiceOptions {
  registry: ModuleRegistry;
  bus: EventBus;
  /** Where module events are logged (one line each); none by default. */
  logger?: Logger;
  /** Events each module may send; default 100/s, bursts of 200. */
  eventRate?: Rate;
  /**
   * "module event" log lines per module when `eventRate` is higher; default 100/s, bursts
   * of 200. Beyond it events are kept and published but not logged, and the next line
   * logged says how many were left out.
   */
  logRate?: Rate;
  /** Status and metrics reports each module may send; default 50/s, bursts of 100. */
  reportRate?: Rate;
  /** A Connect stream without any message for this long is ended; default 15 000 ms. */
  heartbeatTimeoutMs?: number;
  /** How long `sendCommand` waits for a result by default; 10 000 ms. */
  commandTimeoutMs?: number;
  /**
   * Called with every accepted ReportStatus (from a call or the stream), after the
   * module's health view is updated; flow statuses carry `module`. The flows and
   * entities areas take their statuses from here.
   */
  onStatus?: (module: string, request: ReportStatusRequest) => void;
  /** Metric hooks. */
  hooks?: EventServiceHooks;
  /** Where module-reported metrics are kept; a new store by default. */
  moduleMetrics?: ModuleMetricsStore;
  /**
   * Checks that a call presenting `record`'s token comes from one of its processes;
   * throws (PERMISSION_DENIED) when not. None by default (the token alone decides).
   */
  verifyCaller?: (record: ModuleRecord, ctx: CallContext) => void;
}

/** The EventService and what the rest of the orchestrator reads and drives through it. */
export interface EventServiceHandle {
  /** The handlers, for the gRPC server. */
  readonly impl: PartialServiceImpl<typeof EventService>;
  /** Module-reported metrics, for `/metrics`. */
  readonly moduleMetrics: ModuleMetricsStore;
  /** Names of the modules with an open Connect stream. */
  connectedModules(): string[];
  /**
   * Sends a command on the module's Connect stream and waits for its result.
   * UNAVAILABLE without a stream, DEADLINE_EXCEEDED without an answer in time.
   */
  sendCommand(module: string, command: CommandInit, timeoutMs?: number): Promise<CommandResult>;
  /** Ends every stream (at shutdown). */
  close(): void;
}

/** The trace a unary call's `traceparent` metadata names (not one started for it). */
function callerTrace(ctx: CallContext) {
  return parseTraceparent(ctx.headers.get("traceparent"));
}

/** Builds the EventService handlers and their handle. */
export function createEventService(options: EventServiceOptions): EventServiceHandle {
  const { registry, bus, logger } = options;
  const hooks = options.hooks ?? {};
  const commandTimeoutMs = options.commandTimeoutMs ?? 10_000;
  const moduleMetrics = options.moduleMetrics ?? new ModuleMetricsStore();
  const flood = new FloodControl(
    {
      eventRate: options.eventRate ?? { perSecond: 100, burst: 200 },
      reportRate: options.reportRate ?? { perSecond: 50, burst: 100 },
      logRate: options.logRate ?? { perSecond: 100, burst: 200 },
    },
    bus,
    logger,
    hooks.onThrottled,
  );
  const channels = new ChannelTable(flood);
  const commands = new CommandSender(registry, channels);
  const reports = new ModuleReports({
    registry,
    bus,
    flood,
    moduleMetrics,
    logger,
    onEvent: hooks.onEvent,
    onStatus: options.onStatus,
  });
  const streams = new ConnectStreams({
    bus,
    reports,
    commands,
    heartbeatTimeoutMs: options.heartbeatTimeoutMs ?? 15_000,
  });
  const caller = moduleAuthenticator({ registry, logger, verifyCaller: options.verifyCaller });

  const impl: PartialServiceImpl<typeof EventService> = {
    reportEvent(req, ctx) {
      const record = caller(ctx);
      return { eventId: reports.event(record, channels.of(record).limits, req, callerTrace(ctx)) };
    },

    reportStatus(req, ctx) {
      const record = caller(ctx);
      runWithTrace(callerTrace(ctx), () => reports.status(record, channels.of(record).limits, req));
      return {};
    },

    reportMetrics(req, ctx) {
      const record = caller(ctx);
      reports.metrics(record, channels.of(record).limits, req);
      return {};
    },

    async *connect(requests, ctx) {
      const record = caller(ctx);
      yield* streams.serve(record, channels.of(record), requests, ctx);
    },
  };

  return {
    impl,
    moduleMetrics,
    connectedModules: () => channels.connectedModules(),
    sendCommand: (module, command, timeoutMs = commandTimeoutMs) =>
      commands.send(module, command, timeoutMs),
    close() {
      channels.endAll(new RpcError(Code.UNAVAILABLE, "the orchestrator is stopping"));
    },
  };
}
