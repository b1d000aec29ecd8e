// A flow's media figures for the overview, whatever reports them: per hop from the
// watchdog's `Flow.health` when the orchestrator has it, else from the `MediaStats` modules
// report in `FlowStatus.media`, else from their free-form metrics; and which entities a
// browser can preview (they send WebRTC, HLS or MJPEG from an http(s) address).

import { short } from "./format.js";

/** @import { Flow, MediaStats } from "./api_types.js" */

/**
 * One hop's figures as the overview shows them; a figure is undefined when not reported.
 * @typedef {{
 *   key: string,
 *   side: string,
 *   module: string,
 *   entityId: string,
 *   state: string,
 *   message: string,
 *   fps: number | undefined,
 *   bitrateKbps: number | undefined,
 *   latencyMs: number | undefined,
 *   stalls: number | undefined,
 *   frames: number | undefined,
 * }} HopFigures
 */

/** Protocols a browser plays (preview.js). */
const BROWSER_PROTOCOLS = ["webrtc", "hls", "mjpeg"];

/** A flow's hops as figures, from `health` (the watchdog's), else what modules report. */
/** @param {Flow} flow @returns {HopFigures[]} */
export function hopsOf(flow) {
  const health = flow.health?.hops ?? [];
  if (health.length > 0) {
    return health.map((hop) => ({
      key: `${hop.connectionId}/${hop.side}`,
      side: short(hop.side, "MEDIA_SIDE_").toLowerCase(),
      module: hop.module ?? "",
      entityId: hop.entityId ?? "",
      state: short(hop.state, "HOP_STATE_"),
      message: hop.message ?? "",
      ...statsFigures(hop.stats ?? {}),
    }));
  }
  const connections = new Map((flow.connections ?? []).map((c) => [c.id, c]));
  const media = (flow.statuses ?? []).flatMap((s) =>
    (s.media ?? []).map((m) => {
      const side = short(m.side, "MEDIA_SIDE_").toLowerCase();
      const c = connections.get(m.connectionId);
      return {
        key: `${m.connectionId}/${m.side}`,
        side,
        module: s.module,
        entityId: (side === "sent" ? c?.sourceEntityId : c?.targetEntityId) ?? "",
        state: "",
        message: s.message ?? "",
        ...statsFigures(m),
      };
    })
  );
  if (media.length > 0) return media;
  // Modules that report only free-form metrics: one line per module.
  return (flow.statuses ?? []).filter((s) => Object.keys(s.metrics ?? {}).length > 0).map((s) => ({
    key: s.module,
    side: "",
    module: s.module,
    entityId: "",
    state: short(s.state, "FLOW_STATE_"),
    message: s.message ?? "",
    fps: s.metrics.fps,
    bitrateKbps: s.metrics.bitrate_kbps,
    latencyMs: s.metrics.latency_ms,
    stalls: s.metrics.stalls,
    frames: s.metrics.frames_decoded ?? s.metrics.frames,
  }));
}

/** @param {Partial<MediaStats>} s */
function statsFigures(s) {
  return {
    fps: s.fps ?? 0,
    bitrateKbps: s.bitrateKbps ?? 0,
    latencyMs: s.latencyMs || undefined,
    stalls: s.stalls ?? 0,
    frames: Number(s.frames ?? 0),
  };
}

/** The entities that send a browser-playable format on a flow (what can be previewed). */
/** @param {Flow[]} flows */
export function previewableSenders(flows) {
  /** @type {Set<string>} */
  const senders = new Set();
  for (const f of flows) {
    for (const c of f.connections ?? []) {
      if (
        BROWSER_PROTOCOLS.includes(c.format?.protocol ?? "") && /^https?:/.test(c.address ?? "")
      ) {
        senders.add(c.sourceEntityId);
      }
    }
  }
  return senders;
}

/** The entity whose media a flow's target receives, when a browser can play it. */
/** @param {Flow} flow @param {Set<string>} senders */
export function targetFeed(flow, senders) {
  const last = (flow.connections ?? []).find((c) =>
    c.targetEntityId === flow.targetEntityId && senders.has(c.sourceEntityId) &&
    BROWSER_PROTOCOLS.includes(c.format?.protocol ?? "")
  );
  return last?.sourceEntityId;
}
