/**
 * `ConnectReportTransport`: reports over the EventService's bidirectional `Connect`
 * stream, what `serveModule` uses. Every message has a sequence number; a report
 * resolves when the orchestrator acknowledges it. Reports are written as they come until
 * the stream asks to wait ('drain'); one timer watches the oldest acknowledgement
 * deadline. Heartbeats keep the stream alive; when it breaks, the transport reconnects
 * with exponential backoff and jitter and resends, in order, every message not
 * acknowledged (the orchestrator ignores the ones it already had). Commands from the
 * orchestrator (set log level, drain, reload) go to a handler. An orchestrator without
 * `Connect` (UNIMPLEMENTED) is served with unary calls instead.
 */
import { create, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { Buffer } from "node:buffer";
import {
  type Ack,
  type Command,
  ConnectRequestSchema,
  type ConnectResponse,
  ConnectResponseSchema,
  EventService,
} from "@callassistant/protocol";
import { CHANNEL_OPTIONS } from "@callassistant/rpc";
import { Code, RpcError, toRpcError } from "@callassistant/rpc";
import { runWithoutTrace } from "@callassistant/rpc";
import {
  type EventReport,
  type MetricsReport,
  type ReportTransport,
  type StatusReport,
  UnaryReportTransport,
} from "./events.ts";
import { Fifo } from "@callassistant/rpc";

/** A command from the orchestrator and what the module answers. */
export type CommandHandler = (
  command: Command,
) => { ok: boolean; message?: string } | Promise<{ ok: boolean; message?: string }>;

/** Options of a `ConnectReportTransport`. */
export interface ConnectTransportOptions {
  /** host:port of the EventService. */
  address: string;
  /** The module token, sent as `authorization: Bearer <token>`. */
  token: string;
  /** Interval of heartbeats in milliseconds (default 5000; the orchestrator wants one per 10 s). */
  heartbeatMs?: number;
  /** First reconnect delay in milliseconds (default 200), doubled per failed attempt. */
  backoffInitialMs?: number;
  /** Longest reconnect delay in milliseconds (default 10 000). */
  backoffMaxMs?: number;
  /**
   * How long a report may wait for its acknowledgement before its promise rejects
   * (default 30 000 ms). The report stays queued and is still resent after a reconnect.
   */
  ackTimeoutMs?: number;
  /** Most unacknowledged messages kept for resending (default 10 000); past it the oldest go. */
  maxPending?: number;
  /** Carries out orchestrator commands; without it every command answers "not supported". */
  onCommand?: CommandHandler;
  /** Where connection problems are logged (default: a line on stderr). */
  log?: (line: string) => void;
}

type ConnectRequestInit = MessageInitShape<typeof ConnectRequestSchema>;
type Payload = ConnectRequestInit["payload"];
type ConnectStream = grpc.ClientDuplexStream<ConnectRequestInit, ConnectResponse>;

const CONNECT_PATH = `/${EventService.typeName}/Connect`;

function serializeRequest(value: ConnectRequestInit): Buffer {
  const bytes = toBinary(ConnectRequestSchema, create(ConnectRequestSchema, value));
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function deserializeResponse(bytes: Uint8Array): ConnectResponse {
  return fromBinary(ConnectResponseSchema, bytes);
}

/** A message sent (or to send) and not acknowledged yet, with its caller's promise. */
class PendingMessage {
  settled = false;

  constructor(
    readonly sequence: bigint,
    readonly request: ConnectRequestInit,
    /** The `performance.now()` after which the promise rejects (the message stays queued). */
    readonly deadline: number,
    readonly resolve: (value: unknown) => void,
    readonly reject: (err: unknown) => void,
  ) {}

  /** Resolves the promise, unless it was settled already. */
  ok(value: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.resolve(value);
  }

  /** Rejects the promise, unless it was settled already. */
  fail(err: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.reject(err);
  }
}

function ackError(ack: Ack): RpcError | undefined {
  if (!ack.error) return undefined;
  const m = /^([A-Z_]+): ([\s\S]*)$/.exec(ack.error);
  const code = m ? Code[m[1] as keyof typeof Code] : undefined;
  return typeof code === "number"
    ? new RpcError(code, m![2])
    : new RpcError(Code.UNKNOWN, ack.error);
}

/**
 * Reports over the EventService `Connect` stream: sequence numbers, acknowledgements,
 * heartbeats, reconnection with exponential backoff and jitter, resending what was not
 * acknowledged, and commands. Falls back to unary calls when the orchestrator answers
 * `Connect` with UNIMPLEMENTED.
 *
 * Reports are written to the stream as they come, until it asks to wait ('drain');
 * acknowledgement deadlines are checked by one timer, set for the oldest report.
 */
export class ConnectReportTransport implements ReportTransport {
  readonly #options: ConnectTransportOptions;
  readonly #log: (line: string) => void;
  readonly #ackTimeoutMs: number;
  #client: grpc.Client | undefined;
  #sequence = 0n;
  /** Messages sent (or to send) and not acknowledged, oldest (lowest sequence) first. */
  readonly #unacked = new Fifo<PendingMessage>();
  /** Messages whose promise may still time out, oldest (first deadline) first. */
  readonly #deadlines = new Fifo<PendingMessage>();
  #deadlineTimer: ReturnType<typeof setTimeout> | undefined;
  #stream: ConnectStream | undefined;
  /** Messages waiting for the stream to take more (after `write` returned false). */
  readonly #outbox = new Fifo<ConnectRequestInit>();
  #blocked = false;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  #attempt = 0;
  #connected = false;
  #closed = false;
  #fallback: UnaryReportTransport | undefined;
  #connects = 0;

  constructor(options: ConnectTransportOptions) {
    this.#options = options;
    this.#log = options.log ?? ((line) => console.error(line));
    this.#ackTimeoutMs = options.ackTimeoutMs ?? 30_000;
  }

  /** True while a stream is open and has answered. */
  get connected(): boolean {
    return this.#connected;
  }

  /** How many streams were opened so far (1 + reconnects). */
  get connects(): number {
    return this.#connects;
  }

  /** Messages waiting for an acknowledgement. */
  get pending(): number {
    return this.#unacked.size;
  }

  /** Opens the stream now (reports open it on demand otherwise). */
  start(): void {
    if (!this.#closed && !this.#fallback && !this.#stream && !this.#reconnectTimer) {
      this.#connect();
    }
  }

  reportEvent(report: EventReport): Promise<bigint> {
    if (this.#fallback) return this.#fallback.reportEvent(report);
    return this.#send({ case: "event", value: report }) as Promise<bigint>;
  }

  reportStatus(report: StatusReport): Promise<void> {
    if (this.#fallback) return this.#fallback.reportStatus(report);
    return this.#send({ case: "status", value: report }) as Promise<void>;
  }

  reportMetrics(report: MetricsReport): Promise<void> {
    if (this.#fallback) return this.#fallback.reportMetrics(report);
    return this.#send({ case: "metrics", value: report }) as Promise<void>;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#reconnectTimer);
    clearInterval(this.#heartbeat);
    clearTimeout(this.#deadlineTimer);
    this.#deadlines.clear();
    this.#outbox.clear();
    const stream = this.#stream;
    this.#stream = undefined;
    stream?.cancel();
    const err = new RpcError(Code.CANCELLED, "the reporter was closed");
    for (const p of this.#unacked) p.fail(err);
    this.#unacked.clear();
    this.#fallback?.close();
    this.#client?.close();
    this.#client = undefined;
  }

  /**
   * Queues a message until it is acknowledged and writes it if a stream is open. Resolves
   * to the event id (events acknowledged by their own ack) or `undefined`.
   */
  #send(payload: Payload): Promise<unknown> {
    if (this.#closed) {
      return Promise.reject(new RpcError(Code.CANCELLED, "the reporter was closed"));
    }
    const sequence = ++this.#sequence;
    const request: ConnectRequestInit = { sequence, payload };
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    const entry = new PendingMessage(
      sequence,
      request,
      performance.now() + this.#ackTimeoutMs,
      resolve,
      reject,
    );
    this.#unacked.push(entry);
    this.#deadlines.push(entry);
    this.#deadlineTimer ??= setTimeout(this.#sweep, this.#ackTimeoutMs);
    const max = this.#options.maxPending ?? 10_000;
    if (this.#unacked.size > max) {
      this.#unacked.shift()!.fail(
        new RpcError(
          Code.RESOURCE_EXHAUSTED,
          `more than ${max} reports wait for the orchestrator: the oldest was dropped`,
        ),
      );
    }
    if (this.#stream) this.#write(request);
    else this.start();
    return promise;
  }

  /** Rejects the reports past their deadline (they stay queued); waits for the next one. */
  readonly #sweep = (): void => {
    this.#deadlineTimer = undefined;
    const now = performance.now();
    for (let p = this.#deadlines.peek(); p; p = this.#deadlines.peek()) {
      if (!p.settled && p.deadline > now) {
        this.#deadlineTimer = setTimeout(this.#sweep, p.deadline - now);
        return;
      }
      this.#deadlines.shift();
      if (p.settled) continue;
      p.fail(
        new RpcError(
          Code.DEADLINE_EXCEEDED,
          `not acknowledged within ${this.#ackTimeoutMs} ms ` +
            `(${this.#connected ? "connected" : "not connected"}; kept for resending)`,
        ),
      );
    }
  };

  /** Forgets the settled messages at the head of the deadlines; no timer when none is left. */
  #pruneDeadlines(): void {
    for (let p = this.#deadlines.peek(); p?.settled; p = this.#deadlines.peek()) {
      this.#deadlines.shift();
    }
    if (this.#deadlines.size === 0 && this.#deadlineTimer !== undefined) {
      clearTimeout(this.#deadlineTimer);
      this.#deadlineTimer = undefined;
    }
  }

  /** Writes to the open stream, or queues while it wants the writer to wait. */
  #write(request: ConnectRequestInit): void {
    if (this.#blocked) this.#outbox.push(request);
    else if (!this.#stream!.write(request)) this.#blocked = true;
  }

  /** The stream takes more: writes what waits, until it asks to wait again. */
  #drain(stream: ConnectStream): void {
    if (stream !== this.#stream) return;
    this.#blocked = false;
    while (this.#outbox.size > 0) {
      if (!stream.write(this.#outbox.shift()!)) {
        this.#blocked = true;
        return;
      }
    }
  }

  #connect(): void {
    this.#reconnectTimer = undefined;
    if (this.#closed) return;
    this.#connects++;
    this.#client ??= new grpc.Client(
      this.#options.address,
      grpc.credentials.createInsecure(),
      CHANNEL_OPTIONS,
    );
    const metadata = new grpc.Metadata();
    if (this.#options.token) metadata.set("authorization", `Bearer ${this.#options.token}`);
    // The stream outlives any call being handled: it belongs to no trace.
    const stream: ConnectStream = runWithoutTrace(() =>
      this.#client!.makeBidiStreamRequest(
        CONNECT_PATH,
        serializeRequest,
        deserializeResponse,
        metadata,
      )
    );
    this.#stream = stream;
    this.#blocked = false;
    this.#outbox.clear();
    let failure: RpcError | undefined;
    stream.on("data", (response: ConnectResponse) => {
      if (stream !== this.#stream) return;
      if (!this.#connected) {
        this.#connected = true;
        if (this.#attempt > 0) this.#log(`INFO event stream to the orchestrator is back`);
        this.#attempt = 0;
      }
      this.#onResponse(response);
    });
    stream.on("drain", () => this.#drain(stream));
    stream.on("error", (err: unknown) => failure ??= toRpcError(err));
    // After an error too, 'end' comes once every message received was handled.
    stream.on("end", () => this.#ended(stream, failure));
    stream.on("close", () => this.#ended(stream, failure));
    // Resend everything not acknowledged, in order, before anything new.
    for (const p of this.#unacked) this.#write(p.request);
    this.#write({ sequence: ++this.#sequence, payload: { case: "heartbeat", value: {} } });
    clearInterval(this.#heartbeat);
    this.#heartbeat = setInterval(() => {
      if (stream !== this.#stream) return;
      this.#write({ sequence: ++this.#sequence, payload: { case: "heartbeat", value: {} } });
    }, this.#options.heartbeatMs ?? 5000);
  }

  /** The stream ended (`failure` if it failed): reconnects, or gives up on a bad token. */
  #ended(stream: ConnectStream, failure: RpcError | undefined): void {
    if (stream !== this.#stream) return;
    this.#stream = undefined;
    this.#blocked = false;
    this.#outbox.clear();
    clearInterval(this.#heartbeat);
    stream.cancel();
    this.#connected = false;
    if (this.#closed) return;
    if (failure?.code === Code.UNIMPLEMENTED) {
      this.#useUnary();
      return;
    }
    if (failure?.code === Code.UNAUTHENTICATED || failure?.code === Code.PERMISSION_DENIED) {
      // The token will not become valid: nothing queued can be delivered.
      for (const p of this.#unacked) p.fail(failure);
      this.#unacked.clear();
      this.#pruneDeadlines();
    }
    this.#scheduleReconnect(failure);
  }

  #onResponse(response: ConnectResponse): void {
    const payload = response.payload;
    if (payload.case === "ack") {
      const ack = payload.value;
      // Every message up to the acknowledged one was received.
      for (
        let p = this.#unacked.peek();
        p && p.sequence <= ack.sequence;
        p = this.#unacked.peek()
      ) {
        this.#unacked.shift();
        if (p.sequence !== ack.sequence) p.ok(undefined);
        else {
          const err = ackError(ack);
          if (err) p.fail(err);
          else p.ok(p.request.payload?.case === "event" ? ack.eventId : undefined);
        }
      }
      this.#pruneDeadlines();
    } else if (payload.case === "command") {
      runWithoutTrace(() => this.#runCommand(payload.value));
    }
  }

  async #runCommand(command: Command): Promise<void> {
    let result: { ok: boolean; message?: string };
    try {
      result = this.#options.onCommand
        ? await this.#options.onCommand(command)
        : { ok: false, message: "this module does not take commands" };
    } catch (err) {
      result = { ok: false, message: err instanceof Error ? err.message : String(err) };
    }
    if (this.#closed) return;
    this.#send({
      case: "commandResult",
      value: { commandId: command.commandId, ok: result.ok, message: result.message ?? "" },
    }).catch(() => {});
  }

  #scheduleReconnect(failure: RpcError | undefined): void {
    const initial = this.#options.backoffInitialMs ?? 200;
    const max = this.#options.backoffMaxMs ?? 10_000;
    const base = Math.min(max, initial * 2 ** this.#attempt);
    const delay = Math.round(base / 2 + Math.random() * base / 2);
    if (this.#attempt === 0 || this.#attempt % 10 === 0) {
      const why = failure
        ? `${Code[failure.code]}: ${failure.message}`
        : "closed by the orchestrator";
      this.#log(
        `WARN event stream to the orchestrator ended (${why}); reconnecting in ${delay} ms ` +
          `with ${this.#unacked.size} report(s) to resend`,
      );
    }
    this.#attempt++;
    this.#reconnectTimer = setTimeout(() => this.#connect(), delay);
  }

  /** Switches to unary calls, sending what waits. */
  #useUnary(): void {
    this.#log("INFO the orchestrator has no EventService.Connect: reporting with unary calls");
    this.#fallback = new UnaryReportTransport({
      address: this.#options.address,
      token: this.#options.token,
    });
    const waiting = [...this.#unacked];
    this.#unacked.clear();
    for (const p of waiting) {
      const payload = p.request.payload!;
      const fallback = this.#fallback;
      let sent: Promise<bigint | void>;
      switch (payload.case) {
        case "event":
          sent = fallback.reportEvent(payload.value!);
          break;
        case "status":
          sent = fallback.reportStatus(payload.value!);
          break;
        case "metrics":
          sent = fallback.reportMetrics(payload.value!);
          break;
        default:
          sent = Promise.resolve();
      }
      sent.then((id) => p.ok(id), (err) => p.fail(err)).finally(() => this.#pruneDeadlines());
    }
  }
}
