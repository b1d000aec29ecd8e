/**
 * The EventService implementation for modules. Every call must carry the module's token
 * as `authorization: Bearer <token>` (handed over on its standard input; the environment's
 * deprecated `MODULE_TOKEN` is accepted with a warning), from one of the module's own
 * processes (`verifyCaller`); the module is taken from the token.
 *
 * - ReportEvent / ReportStatus / ReportMetrics: one report each.
 * - Connect: the same reports plus heartbeats upward, each with a sequence number, and
 *   acks and commands downward. A repeated sequence number (a resend after a reconnect)
 *   is acknowledged again and otherwise ignored. No message within the heartbeat timeout
 *   ends the stream and marks the module's event channel down (an event says so).
 * - Flood control: each module has a token bucket for events and one for the other
 *   reports; past it a report gets RESOURCE_EXHAUSTED (an ack with that error on the
 *   stream), nothing of it is kept, and an event says so (at most one per 10 s).
 */
import { create, type JsonObject, type MessageInitShape } from "@bufbuild/protobuf";
import type {
  Command,
  CommandResult,
  CommandSchema,
  ConnectRequest,
  ConnectResponseSchema,
  EventService,
  ReportEventRequest,
  ReportMetricsRequest,
  ReportStatusRequest,
} from "@callassistant/protocol";
import { CommandResultSchema } from "@callassistant/protocol";
import { type Event, HealthState, ModuleState, Severity } from "@callassistant/protocol";
import type { Logger } from "../log/logger.ts";
import type { ModuleRecord } from "../modules/module_record.ts";
import type { ModuleRegistry } from "../modules/module_registry.ts";
import type { CallContext, PartialServiceImpl } from "@callassistant/rpc";
import { Code, RpcError, toRpcError } from "@callassistant/rpc";
import { ModuleMetricsStore } from "../metrics/module_metrics.ts";
import { parseTraceparent, runWithTrace, type TraceContext } from "@callassistant/rpc";
import type { EventBus } from "../events/event_bus.ts";
import { AsyncQueue } from "../async/async_queue.ts";

/** The bearer token of a call's `authorization` metadata. */
function bearerOf(ctx: CallContext): string | undefined {
  return /^Bearer\s+(\S+)$/i.exec(ctx.headers.get("authorization") ?? "")?.[1];
}

/** The module a call comes from, by its bearer token. */
export function authenticate(registry: ModuleRegistry, ctx: CallContext): ModuleRecord {
  const token = bearerOf(ctx);
  if (!token) {
    throw new RpcError(
      Code.UNAUTHENTICATED,
      "missing module token: send `authorization: Bearer <token>` metadata, the token " +
        "being the first line of standard input (MODULE_TOKEN=<token>)",
    );
  }
  const record = registry.byToken(token);
  if (!record) {
    throw new RpcError(
      Code.PERMISSION_DENIED,
      "unknown module token (it belongs to no running module, or to an earlier start)",
    );
  }
  return record;
}

/** A rate: `perSecond` on average, up to `burst` at once. */
export interface Rate {
  perSecond: number;
  burst: number;
}

/** Told about what the EventService accepts and refuses (for metrics). */
export interface EventServiceHooks {
  /** A module event was accepted. */
  onEvent?: (module: string, type: string, severity: Severity) => void;
  /** A module report was refused by flood control. */
  onThrottled?: (module: string, kind: "event" | "status" | "metrics") => void;
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

/** A command as `sendCommand` takes it (without its id). */
export type CommandInit = Omit<MessageInitShape<typeof CommandSchema>, "commandId">;

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

const TYPE = /^[a-zA-Z0-9_][a-zA-Z0-9_.:-]*$/;
const MAX_TYPE = 128;
const MAX_DATA_BYTES = 16 * 1024;
/** How often a throttled module gets another "throttled" event at most. */
const THROTTLE_NOTICE_MS = 10_000;
/** How many acks (with event ids) a channel remembers for repeated sequence numbers. */
const RECENT_ACKS = 1024;
/** States of a module stopped on purpose (by hand, a reload or the orchestrator's exit). */
const STOPPING = new Set([ModuleState.STOPPING, ModuleState.STOPPED]);
/** How long a broken stream waits to learn whether its module's process ended. */
const EXIT_WAIT_MS = 2_000;
/** How many downward messages may wait before the stream stops reading (backpressure). */
const OUT_LIMIT = 256;

class TokenBucket {
  private tokens: number;
  private at = performance.now();
  constructor(private readonly rate: Rate) {
    this.tokens = rate.burst;
  }
  take(): boolean {
    const now = performance.now();
    this.tokens = Math.min(
      this.rate.burst,
      this.tokens + (now - this.at) / 1000 * this.rate.perSecond,
    );
    this.at = now;
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }
}

type ConnectResponseInit = MessageInitShape<typeof ConnectResponseSchema>;

interface Stream {
  readonly out: AsyncQueue<ConnectResponseInit>;
  /** Ends the stream with an error (or cleanly without). */
  end(err?: RpcError): void;
}

/** What the orchestrator keeps per module process. */
interface Channel {
  module: string;
  token: string;
  lastSequence: bigint;
  recent: Map<bigint, bigint>;
  events: TokenBucket;
  reports: TokenBucket;
  /** Event log lines this module may still write (see `logRate`). */
  logLines: TokenBucket;
  /** Accepted events not logged since the last line written. */
  unlogged: number;
  dropped: number;
  lastNotice: number;
  stream?: Stream;
  commands: Map<string, { resolve: (r: CommandResult) => void; reject: (e: unknown) => void }>;
}

function dataSize(data: JsonObject | undefined): number {
  if (!data) return 0;
  try {
    return new TextEncoder().encode(JSON.stringify(data)).length;
  } catch {
    return Infinity;
  }
}

/** Builds the EventService handlers and their handle. */
export function createEventService(options: EventServiceOptions): EventServiceHandle {
  const { registry, bus, logger } = options;
  const eventRate = options.eventRate ?? { perSecond: 100, burst: 200 };
  const reportRate = options.reportRate ?? { perSecond: 50, burst: 100 };
  const logRate = options.logRate ?? { perSecond: 100, burst: 200 };
  // When events are limited at least as tightly as log lines, every event is logged.
  const limitLogs = eventRate.perSecond > logRate.perSecond || eventRate.burst > logRate.burst;
  const heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? 15_000;
  const commandTimeoutMs = options.commandTimeoutMs ?? 10_000;
  const hooks = options.hooks ?? {};
  const moduleMetrics = options.moduleMetrics ?? new ModuleMetricsStore();
  const channels = new Map<string, Channel>();
  let nextCommand = 1;
  const rateOf = (kind: string) => kind === "event" ? eventRate : reportRate;

  /** Logs an accepted event, within the module's log rate. */
  const logEvent = (logger: Logger, ch: Channel, event: Event): void => {
    if (limitLogs && !ch.logLines.take()) {
      ch.unlogged++;
      return;
    }
    if (ch.unlogged > 0) {
      logger.warn("module events not logged", {
        module: ch.module,
        count: ch.unlogged,
        reason: `more than ${logRate.perSecond} events/s (bursts of ${logRate.burst})`,
      });
      ch.unlogged = 0;
    }
    logger.log(LOG_LEVEL[event.severity as keyof typeof LOG_LEVEL] ?? "info", "module event", {
      module: ch.module,
      type: event.type,
      severity: SEVERITY_NAMES[event.severity] ?? String(event.severity),
      event_id: String(event.id),
      message: event.message,
      entity_id: event.entityId || undefined,
      flow_id: event.flowId || undefined,
      trace_id: event.traceId || undefined,
    });
  };

  /** The channel of the calling module's current process (reset on a new token). */
  const channelOf = (record: ModuleRecord): Channel => {
    // One channel per instance: the instances of a replicated module each have a stream.
    let ch = channels.get(record.instanceName);
    if (!ch || ch.token !== record.token) {
      ch?.stream?.end(new RpcError(Code.UNAVAILABLE, "the module was restarted"));
      ch = {
        module: record.name,
        token: record.token,
        lastSequence: 0n,
        recent: new Map(),
        events: new TokenBucket(eventRate),
        reports: new TokenBucket(reportRate),
        logLines: new TokenBucket(logRate),
        unlogged: 0,
        dropped: 0,
        lastNotice: -Infinity,
        commands: new Map(),
      };
      channels.set(record.instanceName, ch);
    }
    return ch;
  };

  const throttled = (ch: Channel, kind: "event" | "status" | "metrics"): RpcError => {
    ch.dropped++;
    hooks.onThrottled?.(ch.module, kind);
    const now = performance.now();
    if (now - ch.lastNotice >= THROTTLE_NOTICE_MS) {
      const first = ch.lastNotice === -Infinity;
      const r = rateOf(kind);
      runWithTrace(undefined, () =>
        bus.publish({
          type: "module.events_throttled",
          severity: Severity.WARNING,
          module: ch.module,
          message: `${ch.module} reports faster than ${r.perSecond}/s (bursts of ${r.burst}): ` +
            `${ch.dropped} report(s) refused${first ? "" : " in the last 10 s"}`,
          data: { dropped: ch.dropped, perSecond: r.perSecond, burst: r.burst, kind },
          traceId: "",
        }));
      logger?.warn("module throttled", { module: ch.module, dropped: ch.dropped, kind });
      ch.lastNotice = now;
      ch.dropped = 0;
    }
    const r = rateOf(kind);
    return new RpcError(
      Code.RESOURCE_EXHAUSTED,
      `too many reports (${kind}): at most ${r.perSecond}/s with bursts of ${r.burst}`,
    );
  };

  /** Accepts one event; returns its id. */
  const acceptEvent = (
    record: ModuleRecord,
    ch: Channel,
    req: ReportEventRequest,
    callTrace: TraceContext | undefined,
  ): bigint => {
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
    if (!ch.events.take()) throw throttled(ch, "event");
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
      hooks.onEvent?.(record.name, req.type, event.severity);
      if (logger) logEvent(logger, ch, event);
      return event.id;
    });
  };

  const acceptStatus = (record: ModuleRecord, ch: Channel, req: ReportStatusRequest): void => {
    if (!ch.reports.take()) throw throttled(ch, "status");
    const known = Object.values(HealthState).includes(req.state);
    if (!known) {
      throw new RpcError(Code.INVALID_ARGUMENT, `unknown health state ${req.state}`);
    }
    if (req.state !== HealthState.UNSPECIFIED) {
      const before = record.health.state;
      record.health.state = req.state;
      record.health.message = req.message;
      record.health.checkedAt = new Date();
      if (before !== req.state) {
        bus.publish({
          type: "module.health_changed",
          severity: req.state === HealthState.UNHEALTHY || req.state === HealthState.DEGRADED
            ? Severity.WARNING
            : Severity.INFO,
          module: record.name,
          message: `${record.name} reports ${HealthState[req.state]}${
            req.message ? `: ${req.message}` : ""
          }`,
          data: {
            from: HealthState[before] ?? String(before),
            to: HealthState[req.state],
            message: req.message,
          },
          traceId: "",
        });
      }
    }
    for (const f of req.flows) f.module = record.name;
    if (options.onStatus) {
      try {
        options.onStatus(record.name, req);
      } catch (err) {
        logger?.error("status handler failed", {
          module: record.name,
          error: String((err as Error)?.stack ?? err),
        });
      }
    }
  };

  const acceptMetrics = (record: ModuleRecord, ch: Channel, req: ReportMetricsRequest): void => {
    if (!ch.reports.take()) throw throttled(ch, "metrics");
    moduleMetrics.report(record.name, record.token, req.metrics);
  };

  /** The trace a unary call's `traceparent` metadata names (not one started for it). */
  const callerTrace = (ctx: CallContext) => parseTraceparent(ctx.headers.get("traceparent"));

  const markDown = (ch: Channel, reason: string, severity: Severity) => {
    bus.publish({
      type: "module.event_channel_down",
      severity,
      module: ch.module,
      message: `${ch.module}: event channel down: ${reason}`,
      data: { reason },
      traceId: "",
    });
    for (const [, c] of ch.commands) {
      c.reject(new RpcError(Code.UNAVAILABLE, `the event channel closed: ${reason}`));
    }
    ch.commands.clear();
  };

  /**
   * Why a module's stream broke: a stop that was asked for, or the orchestrator stopping,
   * says so; otherwise the stream waits a moment for the process to end (a `kill -9`
   * closes the connection and ends the process at once) and names how it ended.
   */
  const whyDown = async (
    record: ModuleRecord,
    pid: number,
    endError: RpcError | undefined,
  ): Promise<[string, Severity]> => {
    if (endError?.code === Code.UNAVAILABLE) return [endError.message, Severity.INFO];
    const deadline = Date.now() + EXIT_WAIT_MS;
    for (;;) {
      if (STOPPING.has(record.state)) {
        return [`the module is stopping${endError ? ` (${endError.message})` : ""}`, Severity.INFO];
      }
      const run = pid ? record.history.find((r) => r.pid === pid) : undefined;
      if (run?.exitedAt) {
        const how = run.reason ||
          (run.signal ? `killed by ${run.signal}` : `exited with code ${run.exitCode}`);
        return [`the module process (pid ${pid}) ended: ${how}`, Severity.WARNING];
      }
      if (!pid || Date.now() >= deadline) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    return [`the stream failed: ${endError?.message ?? "cancelled"}`, Severity.WARNING];
  };

  /** Handles one stream message; returns the ack (or nothing for a command result). */
  const handleMessage = (
    record: ModuleRecord,
    ch: Channel,
    req: ConnectRequest,
  ): ConnectResponseInit => {
    const seq = req.sequence;
    if (seq !== 0n && seq <= ch.lastSequence) {
      return { payload: { case: "ack", value: { sequence: seq, eventId: ch.recent.get(seq) } } };
    }
    if (seq !== 0n) ch.lastSequence = seq;
    let eventId = 0n;
    let error = "";
    try {
      const payload = req.payload;
      if (payload.case === "event") {
        // acceptEvent enters the event's own trace (its traceparent, or none).
        eventId = acceptEvent(record, ch, payload.value, undefined);
      } else {
        // Nothing else inherits the stream's trace: each message stands alone.
        runWithTrace(undefined, () => {
          switch (payload.case) {
            case "heartbeat":
              break;
            case "status":
              acceptStatus(record, ch, payload.value);
              break;
            case "metrics":
              acceptMetrics(record, ch, payload.value);
              break;
            case "commandResult": {
              const r = payload.value;
              const pending = ch.commands.get(r.commandId);
              if (pending) {
                ch.commands.delete(r.commandId);
                pending.resolve(r);
              }
              break;
            }
            default:
              throw new RpcError(Code.INVALID_ARGUMENT, "empty message: no payload");
          }
        });
      }
    } catch (err) {
      const rpc = toRpcError(err);
      error = `${Code[rpc.code]}: ${rpc.message}`;
    }
    if (seq !== 0n && eventId !== 0n) {
      ch.recent.set(seq, eventId);
      if (ch.recent.size > RECENT_ACKS) ch.recent.delete(ch.recent.keys().next().value!);
    }
    return { payload: { case: "ack", value: { sequence: seq, eventId, error } } };
  };

  /** Sends `command` on one channel's stream; resolves with the module's result. */
  const sendOn = (ch: Channel, command: CommandInit, timeoutMs: number) => {
    const commandId = `cmd-${nextCommand++}`;
    const full: Command = { ...command, commandId } as Command;
    return new Promise<CommandResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        ch.commands.delete(commandId);
        reject(
          new RpcError(
            Code.DEADLINE_EXCEEDED,
            `module "${ch.module}" did not answer command ${commandId} within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      ch.commands.set(commandId, {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(create(CommandResultSchema, r));
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      ch.stream!.out.push({ payload: { case: "command", value: full } });
    });
  };

  /** Legacy (environment) tokens already warned about, by the process's token. */
  const warnedLegacy = new Set<string>();
  /** The calling module: its token, from one of its own processes. */
  const caller = (ctx: CallContext): ModuleRecord => {
    const record = authenticate(registry, ctx);
    options.verifyCaller?.(record, ctx);
    if (record.legacyToken && bearerOf(ctx) === record.legacyToken) {
      if (!warnedLegacy.has(record.token)) {
        warnedLegacy.add(record.token);
        if (warnedLegacy.size > 10_000) warnedLegacy.clear();
        logger?.warn(
          "module authenticated with MODULE_TOKEN from its environment: deprecated, read " +
            "the token from the first line of standard input instead (MODULE_TOKEN_STDIN=1); " +
            "the environment variable goes away in the next release",
          { module: record.name, pid: record.pid },
        );
      }
    }
    return record;
  };

  const impl: PartialServiceImpl<typeof EventService> = {
    reportEvent(req, ctx) {
      const record = caller(ctx);
      return { eventId: acceptEvent(record, channelOf(record), req, callerTrace(ctx)) };
    },

    reportStatus(req, ctx) {
      const record = caller(ctx);
      runWithTrace(callerTrace(ctx), () => acceptStatus(record, channelOf(record), req));
      return {};
    },

    reportMetrics(req, ctx) {
      const record = caller(ctx);
      acceptMetrics(record, channelOf(record), req);
      return {};
    },

    async *connect(requests, ctx) {
      const record = caller(ctx);
      const ch = channelOf(record);
      const pid = record.pid;
      const out = new AsyncQueue<ConnectResponseInit>();
      let endError: RpcError | undefined;
      let lastSeen = performance.now();
      const stream: Stream = {
        out,
        end(err) {
          endError ??= err;
          out.close(err);
        },
      };
      const previous = ch.stream;
      ch.stream = stream;
      previous?.end(new RpcError(Code.ABORTED, "replaced by a newer stream of the module"));
      if (!previous) {
        bus.publish({
          type: "module.event_channel_up",
          severity: Severity.DEBUG,
          module: ch.module,
          message: `${ch.module}: event channel up`,
          traceId: "",
        });
      }
      const onAbort = () => stream.end();
      ctx.signal.addEventListener("abort", onAbort);
      const timer = setInterval(() => {
        if (performance.now() - lastSeen > heartbeatTimeoutMs) {
          stream.end(
            new RpcError(
              Code.DEADLINE_EXCEEDED,
              `no heartbeat or report within ${heartbeatTimeoutMs} ms`,
            ),
          );
        }
      }, Math.max(50, Math.min(1000, heartbeatTimeoutMs / 4)));
      const reader = (async () => {
        try {
          for await (const req of requests) {
            lastSeen = performance.now();
            if (out.isClosed) break;
            out.push(handleMessage(record, ch, req));
            await out.waitForRoom(OUT_LIMIT);
          }
          stream.end();
        } catch (err) {
          if (!out.isClosed) stream.end(toRpcError(err));
        }
      })();
      try {
        for await (const item of out) yield item;
        if (endError && endError.code !== Code.CANCELLED) throw endError;
      } finally {
        clearInterval(timer);
        ctx.signal.removeEventListener("abort", onAbort);
        out.close();
        void reader;
        if (ch.stream === stream) {
          ch.stream = undefined;
          if (endError?.code === Code.DEADLINE_EXCEEDED) {
            markDown(ch, `missed heartbeat: ${endError.message}`, Severity.WARNING);
          } else if (ctx.signal.aborted || endError) {
            void whyDown(record, pid, endError).then(([reason, severity]) =>
              markDown(ch, reason, severity)
            );
          } else {
            markDown(ch, "the module closed the stream", Severity.INFO);
          }
        }
      }
    },
  };

  return {
    impl,
    moduleMetrics,
    connectedModules: () => [
      ...new Set([...channels.values()].filter((c) => c.stream).map((c) => c.module)),
    ],
    async sendCommand(module, command, timeoutMs = commandTimeoutMs) {
      // Every instance of the module with an open stream gets the command.
      const record = registry.get(module);
      const instances = record ? [record, ...record.replicas] : [];
      const open = instances.flatMap((r) => {
        const ch = channels.get(r.instanceName);
        return ch?.stream && ch.token === r.token ? [ch] : [];
      });
      if (open.length === 0) {
        throw new RpcError(
          Code.UNAVAILABLE,
          `module "${module}" has no open event stream (EventService.Connect) to send commands on`,
        );
      }
      const results = await Promise.all(open.map((ch) => sendOn(ch, command, timeoutMs)));
      return results.find((r) => !r.ok) ?? results[0];
    },
    close() {
      for (const ch of channels.values()) {
        ch.stream?.end(new RpcError(Code.UNAVAILABLE, "the orchestrator is stopping"));
      }
    },
  };
}

/** The EventService handlers alone, with default options. */
export function eventService(
  registry: ModuleRegistry,
  bus: EventBus,
): PartialServiceImpl<typeof EventService> {
  return createEventService({ registry, bus }).impl;
}
