/**
 * Reporting events, status and metrics to the orchestrator's EventService.
 *
 * Reports go through a `ReportTransport`:
 * - `ConnectReportTransport` (`connect_transport.ts`, what `serveModule` uses): the
 *   bidirectional `Connect` stream. Every message has a sequence number; a report resolves when the orchestrator
 *   acknowledges it. Heartbeats keep the stream alive; when it breaks, the transport
 *   reconnects with exponential backoff and jitter and resends, in order, every message
 *   not acknowledged (the orchestrator ignores the ones it already had). Commands from
 *   the orchestrator (set log level, drain, reload) go to a handler. An orchestrator
 *   without `Connect` (UNIMPLEMENTED) is served with unary calls instead.
 * - `UnaryReportTransport`: one unary call per report (ReportEvent, ReportStatus,
 *   ReportMetrics) with the module token and a deadline.
 *
 * An event reported while the module handles a call from the orchestrator carries that
 * call's `traceparent`, so the event has the trace id of the request that caused it.
 *
 * A report never throws into the module's code: failures are logged to stderr (repeated
 * failures are summarised, not repeated) and the call resolves to `undefined`/`false`.
 */
import type { JsonObject, MessageInitShape } from "@bufbuild/protobuf";
import {
  EventService,
  type ReportEventRequestSchema,
  type ReportMetricsRequestSchema,
  type ReportStatusRequestSchema,
} from "@callassistant/protocol";
import { type MediaStatsSchema, type MetricSchema, Severity } from "@callassistant/protocol";
import { type Client, createClient } from "@callassistant/rpc";
import { Code, toRpcError } from "@callassistant/rpc";
import { currentTraceparent } from "@callassistant/rpc";
import { MediaMeter } from "./media_meter.ts";

/** A ReportEvent request. */
export type EventReport = MessageInitShape<typeof ReportEventRequestSchema>;
/** A ReportStatus request: the module's state, and entities and flows that changed. */
export type StatusReport = MessageInitShape<typeof ReportStatusRequestSchema>;
/** A ReportMetrics request. */
export type MetricsReport = MessageInitShape<typeof ReportMetricsRequestSchema>;
/** One metric sample: `{ name, value, labels?, kind?, help? }`. */
export type MetricSample = MessageInitShape<typeof MetricSchema>;
/** The media of one side of one connection: a `MediaStats` (or its init), or a meter. */
export type MediaReport = MessageInitShape<typeof MediaStatsSchema> | MediaMeter;

/** Severity as the enum or its lower-case name. */
export type SeverityLevel = Severity | "debug" | "info" | "warning" | "error" | "critical";

/** The optional fields of an event. */
export interface EventOptions {
  /** How serious it is; INFO by default. */
  severity?: SeverityLevel;
  /** A sentence for people. */
  message?: string;
  /** The entity it concerns. */
  entityId?: string;
  /** The flow it concerns. */
  flowId?: string;
  /** Structured detail (JSON object). */
  data?: JsonObject;
  /**
   * The W3C traceparent of the request that caused the event; by default the one of the
   * call from the orchestrator being handled, if any.
   */
  traceparent?: string;
}

/** How reports reach the orchestrator. Methods reject on failure; the reporter catches. */
export interface ReportTransport {
  /** Sends an event; resolves to the id the orchestrator gave it. */
  reportEvent(report: EventReport): Promise<bigint>;
  /** Sends a status report. */
  reportStatus(report: StatusReport): Promise<void>;
  /** Sends metric samples. */
  reportMetrics(report: MetricsReport): Promise<void>;
  /** Releases the connection. */
  close(): void;
}

/** Options of a unary transport. */
export interface UnaryTransportOptions {
  /** host:port of the EventService. */
  address: string;
  /** The module token, sent as `authorization: Bearer <token>`. */
  token: string;
  /** Deadline of each call in milliseconds (default 5000). */
  timeoutMs?: number;
}

/** A transport sending one unary EventService call per report. */
export class UnaryReportTransport implements ReportTransport {
  #client: Client<typeof EventService> | undefined;
  readonly #options: UnaryTransportOptions;

  constructor(options: UnaryTransportOptions) {
    this.#options = options;
  }

  #call() {
    this.#client ??= createClient(EventService, this.#options.address);
    const headers: Record<string, string> = {};
    if (this.#options.token) headers.authorization = `Bearer ${this.#options.token}`;
    return {
      client: this.#client,
      options: { headers, timeoutMs: this.#options.timeoutMs ?? 5000 },
    };
  }

  async reportEvent(report: EventReport): Promise<bigint> {
    const { client, options } = this.#call();
    return (await client.reportEvent(report, options)).eventId;
  }

  async reportStatus(report: StatusReport): Promise<void> {
    const { client, options } = this.#call();
    await client.reportStatus(report, options);
  }

  async reportMetrics(report: MetricsReport): Promise<void> {
    const { client, options } = this.#call();
    await client.reportMetrics(report, options);
  }

  close(): void {
    this.#client?.close();
    this.#client = undefined;
  }
}

/** Options of an EventReporter. */
export interface EventReporterOptions {
  /** host:port of the EventService; empty turns reporting off (the module runs alone). */
  address: string;
  /** The module token. */
  token: string;
  /** Deadline of each call in milliseconds (default 5000). */
  timeoutMs?: number;
  /** Where failures are logged (default: a line on stderr). */
  log?: (line: string) => void;
  /** Replaces the unary transport (e.g. with a `ConnectReportTransport`). */
  transport?: ReportTransport;
}

const SEVERITIES: Record<Exclude<SeverityLevel, Severity>, Severity> = {
  debug: Severity.DEBUG,
  info: Severity.INFO,
  warning: Severity.WARNING,
  error: Severity.ERROR,
  critical: Severity.CRITICAL,
};

/** How long repeated failures are summarised instead of logged one by one. */
const QUIET_MS = 30_000;

/** Sends a module's events, status and metrics to the orchestrator. Never throws. */
export class EventReporter {
  readonly #transport: ReportTransport | undefined;
  readonly #log: (line: string) => void;
  readonly #pending = new Set<Promise<unknown>>();
  #closed = false;
  #warnedDisabled = false;
  #failures = 0;
  #lastFailureLog = 0;
  #suppressed = 0;

  constructor(options: EventReporterOptions) {
    this.#log = options.log ?? ((line) => console.error(line));
    this.#transport = options.transport ??
      (options.address
        ? new UnaryReportTransport({
          address: options.address,
          token: options.token,
          timeoutMs: options.timeoutMs,
        })
        : undefined);
  }

  /** True when reports are sent somewhere (ORCHESTRATOR_ADDRESS was set). */
  get enabled(): boolean {
    return this.#transport !== undefined && !this.#closed;
  }

  /**
   * Reports an event of a dotted `type` (e.g. "camera.motion"). Resolves to the event id
   * the orchestrator assigned, or `undefined` when it could not be delivered.
   */
  report(type: string, options: EventOptions = {}): Promise<bigint | undefined> {
    const severity = typeof options.severity === "string"
      ? SEVERITIES[options.severity]
      : options.severity ?? Severity.INFO;
    return this.#send(`event "${type}"`, (t) =>
      t.reportEvent({
        type,
        severity,
        message: options.message ?? "",
        entityId: options.entityId ?? "",
        flowId: options.flowId ?? "",
        data: options.data,
        traceparent: options.traceparent ?? currentTraceparent() ?? "",
      }), undefined);
  }

  /**
   * Reports the module's status and the entities and flows that changed (also confirms
   * an AdjustQuality). Resolves to true when the orchestrator accepted it.
   */
  status(report: StatusReport): Promise<boolean> {
    return this.#send("status", (t) => t.reportStatus(report).then(() => true), false);
  }

  /**
   * Reports the media this module measures on a flow: one `MediaStats` (or `MediaMeter`)
   * per connection and side, about once a second while the flow runs. It is a media-only
   * status report: the module's state, message and quality for the flow stand. Entries
   * without a connection id or side are left out (and logged); with none left nothing is
   * sent. Resolves to true when the orchestrator accepted it.
   */
  media(flowId: string, stats: MediaReport[]): Promise<boolean> {
    const media = [];
    for (const s of stats) {
      const entry = s instanceof MediaMeter ? s.stats() : s;
      if (!entry.connectionId || !entry.side) {
        this.#log(`WARN media stats of flow "${flowId}" without a connection id or side: left out`);
        continue;
      }
      media.push(entry);
    }
    if (!flowId || media.length === 0) return Promise.resolve(false);
    return this.status({ flows: [{ flowId, media }] });
  }

  /** Reports metric samples. Resolves to true when the orchestrator accepted them. */
  metrics(samples: MetricSample[]): Promise<boolean> {
    return this.#send(
      `${samples.length} metric(s)`,
      (t) => t.reportMetrics({ metrics: samples }).then(() => true),
      false,
    );
  }

  /** Waits (at most `timeoutMs`) for the reports in flight. */
  async flush(timeoutMs = 2000): Promise<void> {
    if (this.#pending.size === 0) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.allSettled([...this.#pending]),
      new Promise((resolve) => timer = setTimeout(resolve, timeoutMs)),
    ]);
    clearTimeout(timer);
  }

  /** Stops reporting and releases the connection; later reports resolve as undelivered. */
  close(): void {
    this.#closed = true;
    this.#transport?.close();
  }

  #send<T>(what: string, send: (t: ReportTransport) => Promise<T>, failed: T): Promise<T> {
    const transport = this.#transport;
    if (!transport || this.#closed) {
      if (!transport && !this.#warnedDisabled) {
        this.#warnedDisabled = true;
        this.#log(
          "WARN ORCHESTRATOR_ADDRESS is not set: events, status and metrics are not reported",
        );
      }
      return Promise.resolve(failed);
    }
    let promise: Promise<T>;
    try {
      promise = send(transport);
    } catch (err) {
      promise = Promise.reject(err);
    }
    const result: Promise<T> = promise.then(
      (value) => {
        this.#pending.delete(result);
        this.#succeeded();
        return value;
      },
      (err) => {
        this.#pending.delete(result);
        this.#failed(what, err);
        return failed;
      },
    );
    this.#pending.add(result);
    return result;
  }

  #succeeded(): void {
    if (this.#failures === 0) return;
    this.#log(`INFO reports to the orchestrator work again (${this.#failures} failed before)`);
    this.#failures = 0;
    this.#suppressed = 0;
    this.#lastFailureLog = 0;
  }

  #failed(what: string, err: unknown): void {
    this.#failures++;
    const now = Date.now();
    if (now - this.#lastFailureLog < QUIET_MS) {
      this.#suppressed++;
      return;
    }
    const rpc = toRpcError(err);
    const more = this.#suppressed > 0 ? ` (${this.#suppressed} more failed since last logged)` : "";
    this.#log(
      `WARN cannot report ${what} to the orchestrator: ${Code[rpc.code]}: ${rpc.message}${more}`,
    );
    this.#lastFailureLog = now;
    this.#suppressed = 0;
  }
}
