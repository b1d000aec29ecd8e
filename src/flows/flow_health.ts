/**
 * Judging a flow by its media: from the `MediaStats` its modules reported, one
 * `HopHealth` per measured side of every connection (WAITING, FLOWING, STALLED, SLOW) or
 * one UNMEASURED entry for a connection no module measures, and the flow's end-to-end
 * latency and time to first frame (`FlowHealth` in the contract). Pure: the watchdog
 * (flow_watchdog.ts) gives the clock, when each module's report came in and what it
 * judged before, and acts on the result.
 *
 * Ages are taken on the measuring module's clock (`measured_at - last_frame_at`) plus
 * the time since its report arrived on the orchestrator's, so a module whose clock is off
 * is judged right, and a module that stopped reporting altogether ages too.
 */
import { create } from "@bufbuild/protobuf";
import {
  type Duration,
  durationFromMs,
  type Timestamp,
  timestampDate,
  timestampFromMs,
  timestampMs,
} from "@bufbuild/protobuf/wkt";
import {
  type Connection,
  type FlowHealth,
  FlowHealthSchema,
  type HopHealth,
  HopHealthSchema,
  HopState,
  LatencySource,
  MediaSide,
  type MediaStats,
} from "@callassistant/protocol";

/** The default stall timeout, when neither the flow nor the manifest sets one. */
export const DEFAULT_STALL_TIMEOUT_MS = 5_000;
/** The default first-frame timeout, when the flow sets none. */
export const DEFAULT_FIRST_FRAME_TIMEOUT_MS = 15_000;

/** The sides of a connection in path order. */
const SIDES = [MediaSide.SENT, MediaSide.RECEIVED, MediaSide.PRESENTED];

/** A module's media for a flow, as the watchdog received it. */
export interface MediaReport {
  media: MediaStats[];
  /** When it arrived, orchestrator ms. */
  receivedAt: number;
}

/** What a judgement needs. */
export interface JudgeInput {
  /** The flow's connections, in path order. */
  connections: Connection[];
  /** The module of an entity of the flow. */
  moduleOf(entityId: string): string | undefined;
  /** The last media report of each module since the flow last (re)started. */
  reports: Map<string, MediaReport>;
  /**
   * The sides measured for this flow at some time, as `sideKey(module, entity, side)`:
   * watched from then on, also while no report came since a (re)start.
   */
  everReported: Set<string>;
  /** When the flow last (re)started, orchestrator ms. */
  startedAt: number;
  /** Now, orchestrator ms. */
  now: number;
  /** The stall timeout of the hops a module measures. */
  stallTimeoutMs(module: string): number;
  firstFrameTimeoutMs: number;
  /** The latency limit; 0 for none. */
  maxLatencyMs: number;
  /** The previous judgement (for `since`). */
  previous?: FlowHealth;
}

function ms(t: Timestamp | undefined): number | undefined {
  return t ? timestampMs(t) : undefined;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function clock(t: Timestamp): string {
  return timestampDate(t).toISOString().slice(11, 19);
}

/** The key of a measured side in `JudgeInput.everReported`. */
export function sideKey(module: string, entityId: string, side: MediaSide): string {
  return `${module}\u0000${entityId}\u0000${side}`;
}

/** "cam-video-0 SENT (camera)" for messages and events. */
export function describeHop(hop: HopHealth): string {
  const side = hop.side ? MediaSide[hop.side] : "UNMEASURED";
  return `connection ${hop.connectionId} ${side} (${hop.module}/${hop.entityId})`;
}

/** How long ago the hop's last frame was, in orchestrator ms; undefined before the first. */
export function frameAgeMs(stats: MediaStats, receivedAt: number, now: number): number | undefined {
  const last = ms(stats.lastFrameAt);
  if (last === undefined) return undefined;
  const measured = ms(stats.measuredAt) ?? last;
  return Math.max(0, measured - last) + Math.max(0, now - receivedAt);
}

function judgeSide(
  input: JudgeInput,
  stats: MediaStats,
  receivedAt: number,
  module: string,
): { state: HopState; message: string } {
  const { now } = input;
  const stallMs = input.stallTimeoutMs(module);
  const age = frameAgeMs(stats, receivedAt, now);
  if (age === undefined) {
    const waited = now - input.startedAt;
    if (waited < input.firstFrameTimeoutMs) {
      return { state: HopState.WAITING, message: `no frame yet (${seconds(waited)} since start)` };
    }
    return {
      state: HopState.STALLED,
      message: `no frame within first_frame_timeout ${seconds(input.firstFrameTimeoutMs)} ` +
        `(${seconds(waited)} since start, frames ${stats.frames})`,
    };
  }
  if (age >= stallMs) {
    return {
      state: HopState.STALLED,
      message: `no new frame for ${seconds(age)} (stall_timeout ${
        seconds(stallMs)
      }; frames ${stats.frames}, last at ${clock(stats.lastFrameAt!)})`,
    };
  }
  const figures = `${stats.fps.toFixed(1)} fps, ${Math.round(stats.bitrateKbps)} kb/s`;
  if (input.maxLatencyMs > 0 && stats.latencyMs > input.maxLatencyMs) {
    return {
      state: HopState.SLOW,
      message: `latency ${
        Math.round(stats.latencyMs)
      } ms over max_latency ${input.maxLatencyMs} ms (${figures})`,
    };
  }
  const latency = stats.latencyMs > 0 ? `, latency ${Math.round(stats.latencyMs)} ms` : "";
  return { state: HopState.FLOWING, message: `${figures}${latency}` };
}

/** Judges every hop of the flow and the flow end to end. */
export function judgeFlow(input: JudgeInput): FlowHealth {
  const hops: HopHealth[] = [];
  const before = new Map(
    (input.previous?.hops ?? []).map((h) => [`${h.connectionId}\u0000${h.side}`, h]),
  );
  const add = (fields: Omit<HopHealth, "$typeName" | "$unknown" | "since">) => {
    const old = before.get(`${fields.connectionId}\u0000${fields.side}`);
    const since = old && old.state === fields.state && old.since
      ? old.since
      : timestampFromMs(input.now);
    hops.push(create(HopHealthSchema, { ...fields, since }));
  };
  for (const connection of input.connections) {
    const senderModule = input.moduleOf(connection.sourceEntityId) ?? "";
    const receiverModule = input.moduleOf(connection.targetEntityId) ?? "";
    let measured = false;
    for (const side of SIDES) {
      const module = side === MediaSide.SENT ? senderModule : receiverModule;
      const entityId = side === MediaSide.SENT
        ? connection.sourceEntityId
        : connection.targetEntityId;
      const report = input.reports.get(module);
      const stats = report?.media.find((m) => m.connectionId === connection.id && m.side === side);
      if (stats && report) {
        measured = true;
        const { state, message } = judgeSide(input, stats, report.receivedAt, module);
        add({ connectionId: connection.id, side, module, entityId, state, message, stats });
      } else if (!report && input.everReported.has(sideKey(module, entityId, side))) {
        // Measured before, no report at all since the (re)start: waiting, then stalled
        // once the first-frame window passed without a word. (A module that reports but
        // leaves a side out does not measure it now, e.g. a screen with no page open.)
        measured = true;
        const waited = input.now - input.startedAt;
        const late = waited >= input.firstFrameTimeoutMs;
        add({
          connectionId: connection.id,
          side,
          module,
          entityId,
          state: late ? HopState.STALLED : HopState.WAITING,
          message: late
            ? `no media report within first_frame_timeout ${
              seconds(input.firstFrameTimeoutMs)
            } since start`
            : `no media report yet (${seconds(waited)} since start)`,
        });
      }
    }
    if (!measured) {
      add({
        connectionId: connection.id,
        side: MediaSide.UNSPECIFIED,
        module: receiverModule,
        entityId: connection.targetEntityId,
        state: HopState.UNMEASURED,
        message: "no module reports media for this connection",
      });
    }
  }
  const health = create(FlowHealthSchema, {
    watched: hops.some((h) => h.state !== HopState.UNMEASURED),
    hops,
    judgedAt: timestampFromMs(input.now),
  });
  // End to end: the target's pixel clock, else the sum of the hops' own estimates.
  const presented = hops.filter((h) => h.side === MediaSide.PRESENTED && h.stats);
  const last = presented.at(-1)?.stats;
  if (last && last.latencySource === LatencySource.PIXEL_CLOCK && last.latencyMs > 0) {
    health.latencyMs = last.latencyMs;
    health.latencySource = LatencySource.PIXEL_CLOCK;
  } else {
    const estimates = hops.filter((h) =>
      h.stats?.latencySource === LatencySource.MODULE_ESTIMATE && h.stats.latencyMs > 0
    );
    if (estimates.length > 0) {
      health.latencyMs = estimates.reduce((sum, h) => sum + h.stats!.latencyMs, 0);
      health.latencySource = LatencySource.MODULE_ESTIMATE;
    }
  }
  const target = last ?? hops.filter((h) => h.stats).at(-1)?.stats;
  const first = ms(target?.firstFrameAt);
  const started = ms(target?.startedAt);
  if (first !== undefined && started !== undefined) {
    health.timeToFirstFrame = durationFromMs(Math.max(0, first - started)) as Duration;
  }
  return health;
}

/** The first hop in path order in `state`, if any. */
export function firstHopIn(health: FlowHealth, state: HopState): HopHealth | undefined {
  return health.hops.find((h) => h.state === state);
}

/** True when every measured hop has new frames (FLOWING or SLOW) and one at least is measured. */
export function allFlowing(health: FlowHealth): boolean {
  const measured = health.hops.filter((h) => h.state !== HopState.UNMEASURED);
  return measured.length > 0 &&
    measured.every((h) => h.state === HopState.FLOWING || h.state === HopState.SLOW);
}
