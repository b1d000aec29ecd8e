/**
 * What a screen reports to the orchestrator: its entity status and the status of the
 * flow it plays, from its page's last report. Metric keys (EntityStatus.metrics and
 * FlowStatus.metrics, all numbers):
 *
 *   frames_decoded   frames the browser decoded since the page loaded
 *   frames_new       frames shown whose pixel clock was later than any before
 *   frames_dropped   frames the browser dropped
 *   fps              frames shown per second (last 2 s)
 *   bitrate_kbps     received bitrate (WebRTC only)
 *   width, height    the decoded picture
 *   latency_ms       glass-to-glass latency from the pixel clock (last 10 frames, median)
 *   latency_p50_ms, latency_p95_ms   over the last 100 frames
 *   first_frame_ms   from the player's start to its first new frame
 *   last_frame_age_ms  time since the last new frame
 *   stalls, reconnects  since the page loaded
 *   pages            1 while a page reports (a report in the last 5 s), else 0
 *   playing          1 when the page shows frames of this flow, else 0
 */
import { EntityState, FlowState } from "@callassistant/sdk";
import type { ScreenReport, ScreenTable } from "./screen_table.ts";

const NUMBERS = [
  "frames_decoded",
  "frames_new",
  "frames_dropped",
  "fps",
  "bitrate_kbps",
  "width",
  "height",
  "latency_ms",
  "latency_p50_ms",
  "latency_p95_ms",
  "first_frame_ms",
  "last_frame_age_ms",
  "stalls",
  "reconnects",
];

/** The numeric figures of a report, under the keys above. */
export function reportMetrics(report: ScreenReport | undefined): Record<string, number> {
  const out: Record<string, number> = { pages: report ? 1 : 0 };
  if (!report) return out;
  for (const key of NUMBERS) {
    const value = report[key];
    if (typeof value === "number" && Number.isFinite(value)) out[key] = value;
  }
  out.playing = report.state === "playing" ? 1 : 0;
  return out;
}

/** Where people open the screen. */
export function pageUrl(base: string, screenId: string): string {
  return `${base}/screens/${encodeURIComponent(screenId)}`;
}

/** The screen's status: ACTIVE while its page plays, DEGRADED while it stalls or fails. */
export function screenStatus(table: ScreenTable, screenId: string, base: string) {
  const report = table.freshReport(screenId);
  const source = table.sourceOf(screenId);
  const url = pageUrl(base, screenId);
  let state = EntityState.READY;
  let message = `open ${url}`;
  if (source) {
    const plays = report && report.connection_id === source.connection_id;
    if (!report) {
      message = `${source.protocol} ready; no page open: open ${url}`;
    } else if (plays && report.state === "playing") {
      state = EntityState.ACTIVE;
      message = `playing ${source.protocol} at ${url}`;
    } else if (plays && (report.state === "stalled" || report.state === "error")) {
      state = EntityState.DEGRADED;
      message = `${report.state}: ${report.message} (${url})`;
    } else {
      message = `connecting ${source.protocol} (${url})`;
    }
  } else if (report) {
    message = `page open, waiting for a flow (${url})`;
  }
  return { entityId: screenId, state, message, metrics: reportMetrics(report) };
}

/** The status of a flow on this module: the figures of the screen that plays it. */
export function flowStatus(table: ScreenTable, flowId: string, running: boolean) {
  const connection = [...table.connections.values()].find((c) => c.flowId === flowId);
  if (!running || !connection) {
    return {
      flowId,
      state: running ? FlowState.ACTIVE : FlowState.STOPPED,
      message: running ? "started" : "connected, not started",
      metrics: {},
    };
  }
  const report = table.freshReport(connection.screenId);
  const plays = report?.connection_id === connection.id;
  const metrics = plays ? reportMetrics(report) : { pages: report ? 1 : 0, playing: 0 };
  let state = FlowState.ACTIVE;
  let message = `screen "${connection.screenId}" has no page open`;
  if (report && plays) {
    if (report.state === "stalled" || report.state === "error") {
      state = FlowState.DEGRADED;
      message = `screen "${connection.screenId}" ${report.state}: ${report.message}`;
    } else {
      message = `screen "${connection.screenId}" ${report.state} ${connection.protocol}`;
    }
  } else if (report) {
    message = `screen "${connection.screenId}" page open, loading the flow`;
  }
  return { flowId, state, message, metrics };
}
