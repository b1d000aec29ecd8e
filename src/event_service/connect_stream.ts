/**
 * The Connect stream protocol: reports and heartbeats go up, each with a sequence number,
 * and acks and commands come down. A repeated sequence number (a resend after a
 * reconnect) is acknowledged again and otherwise ignored. No message within the heartbeat
 * timeout ends the stream; a stream that ends marks the module's event channel down (an
 * event says why, naming how the module's process ended when it did).
 */
import type { ConnectRequest, ConnectResponse } from "@callassistant/protocol";
import { ModuleState, Severity } from "@callassistant/protocol";
import type { CallContext } from "@callassistant/rpc";
import { Code, RpcError, runWithTrace, toRpcError } from "@callassistant/rpc";
import { AsyncQueue } from "../async/async_queue.ts";
import type { EventBus } from "../events/event_bus.ts";
import type { ModuleRecord } from "../modules/module_record.ts";
import type { Channel, ChannelStream, ConnectResponseInit } from "./module_channels.ts";
import type { CommandSender } from "./module_commands.ts";
import type { ModuleReports } from "./module_reports.ts";

/** How many acks (with event ids) a channel remembers for repeated sequence numbers. */
const RECENT_ACKS = 1024;
/** States of a module stopped on purpose (by hand, a reload or the orchestrator's exit). */
const STOPPING = new Set([ModuleState.STOPPING, ModuleState.STOPPED]);
/** How long a broken stream waits to learn whether its module's process ended. */
const EXIT_WAIT_MS = 2_000;
/** How many downward messages may wait before the stream stops reading (backpressure). */
const OUT_LIMIT = 256;

/** What {@link ConnectStreams} needs. */
export interface ConnectStreamsOptions {
  bus: EventBus;
  reports: ModuleReports;
  commands: CommandSender;
  /** A stream without any message for this long is ended. */
  heartbeatTimeoutMs: number;
}

/** Serves the Connect streams of the modules. */
export class ConnectStreams {
  readonly #options: ConnectStreamsOptions;

  constructor(options: ConnectStreamsOptions) {
    this.#options = options;
  }

  /** Serves one module process's stream on its channel until either side ends it. */
  async *serve(
    record: ModuleRecord,
    ch: Channel,
    requests: AsyncIterable<ConnectRequest>,
    ctx: CallContext,
  ): AsyncGenerator<ConnectResponseInit | ConnectResponse> {
    const { bus, heartbeatTimeoutMs } = this.#options;
    const pid = record.pid;
    const out = new AsyncQueue<ConnectResponseInit>();
    let endError: RpcError | undefined;
    let lastSeen = performance.now();
    const stream: ChannelStream = {
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
          out.push(this.#handleMessage(record, ch, req));
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
          this.#markDown(ch, `missed heartbeat: ${endError.message}`, Severity.WARNING);
        } else if (ctx.signal.aborted || endError) {
          void whyDown(record, pid, endError).then(([reason, severity]) =>
            this.#markDown(ch, reason, severity)
          );
        } else {
          this.#markDown(ch, "the module closed the stream", Severity.INFO);
        }
      }
    }
  }

  /** Handles one stream message; returns its ack. */
  #handleMessage(
    record: ModuleRecord,
    ch: Channel,
    req: ConnectRequest,
  ): ConnectResponseInit {
    const { reports, commands } = this.#options;
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
        // The event enters its own trace (its traceparent, or none).
        eventId = reports.event(record, ch.limits, payload.value, undefined);
      } else {
        // Nothing else inherits the stream's trace: each message stands alone.
        runWithTrace(undefined, () => {
          switch (payload.case) {
            case "heartbeat":
              break;
            case "status":
              reports.status(record, ch.limits, payload.value);
              break;
            case "metrics":
              reports.metrics(record, ch.limits, payload.value);
              break;
            case "commandResult":
              commands.resolve(ch, payload.value);
              break;
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
  }

  /** Announces a channel down and fails the commands waiting on it. */
  #markDown(ch: Channel, reason: string, severity: Severity): void {
    this.#options.bus.publish({
      type: "module.event_channel_down",
      severity,
      module: ch.module,
      message: `${ch.module}: event channel down: ${reason}`,
      data: { reason },
      traceId: "",
    });
    this.#options.commands.rejectAll(ch, reason);
  }
}

/**
 * Why a module's stream broke: a stop that was asked for, or the orchestrator stopping,
 * says so; otherwise the stream waits a moment for the process to end (a `kill -9`
 * closes the connection and ends the process at once) and names how it ended.
 */
async function whyDown(
  record: ModuleRecord,
  pid: number,
  endError: RpcError | undefined,
): Promise<[string, Severity]> {
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
}
