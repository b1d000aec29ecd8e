/**
 * The media side of a flow as the contract defines it (`MediaStats`, `FlowStatus.media`,
 * the flow's `stall_timeout`, `first_frame_timeout` and `max_latency`): the limits a flow
 * was created with (checked, stored, persisted and shown), and how a module's status
 * report is merged with what it reported before (a media-only report changes only the
 * media; a report without media keeps the last media). The watchdog that judges the media
 * by these limits is not here.
 */
import { clone, create, type JsonObject } from "@bufbuild/protobuf";
import { type Duration, durationFromMs, durationMs, DurationSchema } from "@bufbuild/protobuf/wkt";
import { FlowState, type FlowStatus, FlowStatusSchema } from "@callassistant/protocol";
import { Code, RpcError } from "@callassistant/rpc";

/** A flow's media limits as asked at creation; unset ones take their defaults. */
export interface FlowMediaLimits {
  stallTimeout?: Duration;
  firstFrameTimeout?: Duration;
  maxLatency?: Duration;
}

/** What each limit may be, in ms, and its JSON name. */
const RANGES: Record<keyof FlowMediaLimits, { name: string; min: number; max: number }> = {
  stallTimeout: { name: "stall_timeout", min: 1_000, max: 600_000 },
  firstFrameTimeout: { name: "first_frame_timeout", min: 1_000, max: 600_000 },
  maxLatency: { name: "max_latency", min: 10, max: 600_000 },
};

function describeMs(ms: number): string {
  return ms >= 60_000 && ms % 60_000 === 0
    ? `${ms / 60_000} min`
    : ms >= 1000
    ? `${ms / 1000} s`
    : `${ms} ms`;
}

/**
 * The limits of a CreateFlowRequest, checked: INVALID_ARGUMENT naming the field and its
 * range when one is out of it (a zero duration included: leave it unset for the default).
 */
export function validateMediaLimits(input: FlowMediaLimits): FlowMediaLimits {
  const out: FlowMediaLimits = {};
  for (const key of Object.keys(RANGES) as (keyof FlowMediaLimits)[]) {
    const value = input[key];
    if (!value) continue;
    const { name, min, max } = RANGES[key];
    const ms = durationMs(value);
    if (!(ms >= min && ms <= max)) {
      throw new RpcError(
        Code.INVALID_ARGUMENT,
        `${name} must be from ${describeMs(min)} to ${describeMs(max)} (got ${
          ms / 1000
        } s); leave it unset for the default`,
      );
    }
    out[key] = create(DurationSchema, { seconds: value.seconds, nanos: value.nanos });
  }
  return out;
}

/** The persisted form: milliseconds per set limit. */
export function storedMediaLimits(limits: FlowMediaLimits): JsonObject {
  const out: JsonObject = {};
  for (const key of Object.keys(RANGES) as (keyof FlowMediaLimits)[]) {
    const value = limits[key];
    if (value) out[key] = durationMs(value);
  }
  return out;
}

/** The limits back from their persisted form (unknown or bad entries are dropped). */
export function restoreMediaLimits(stored: JsonObject | undefined): FlowMediaLimits {
  const out: FlowMediaLimits = {};
  for (const key of Object.keys(RANGES) as (keyof FlowMediaLimits)[]) {
    const ms = stored?.[key];
    if (typeof ms === "number" && Number.isFinite(ms) && ms > 0) out[key] = durationFromMs(ms);
  }
  return out;
}

/** True when a module's flow status only carries media (state UNSPECIFIED, media set). */
export function isMediaOnly(status: FlowStatus): boolean {
  return status.state === FlowState.UNSPECIFIED && status.media.length > 0;
}

/**
 * What the orchestrator keeps of a module's flow status once `reported` came in after
 * `before`: a media-only report changes only the media; any other report replaces the
 * status, keeping the last media when it carries none. `module` is always set.
 */
export function mergeFlowStatus(
  before: FlowStatus | undefined,
  reported: FlowStatus,
  module: string,
): FlowStatus {
  if (isMediaOnly(reported)) {
    const status = before ? clone(FlowStatusSchema, before) : create(FlowStatusSchema, {
      flowId: reported.flowId,
    });
    status.media = reported.media;
    status.module = module;
    return status;
  }
  const status = clone(FlowStatusSchema, reported);
  status.module = module;
  if (status.media.length === 0 && before?.media.length) status.media = before.media;
  return status;
}
