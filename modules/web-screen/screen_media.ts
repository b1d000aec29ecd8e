/**
 * A page's report as the contract's `MediaStats` (side PRESENTED) of the connection it
 * plays: its counters of the current source (`frames_source`: new frames shown, `bytes_source`
 * received where the browser tells them, `dropped_source`, `restarts_source`: player
 * restarts) copied into the connection's meter, and its pixel-clock latencies measured
 * since its previous report (`latency_new`).
 */
import { LatencySource, type MediaMeter } from "@callassistant/sdk";
import type { ScreenReport } from "./screen_table.ts";

function count(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? value : 0;
}

/** The restarts already counted per meter (a page counts them since its source was set). */
const restartsSeen = new WeakMap<MediaMeter, number>();

/** Copies one report of the page that plays `meter`'s connection into it. */
export function feedMeter(meter: MediaMeter, report: ScreenReport): void {
  meter.totals(count(report.frames_source), count(report.bytes_source));
  meter.droppedTotal(count(report.dropped_source));
  meter.size(count(report.width), count(report.height));
  if (typeof report.codec === "string" && report.codec) meter.codec = report.codec;
  const restarts = count(report.restarts_source);
  const seen = restartsSeen.get(meter) ?? 0;
  // A page reloaded (its counters start over) counts as one restart itself.
  const grown = restarts >= seen ? restarts - seen : restarts + 1;
  for (let i = 0; i < grown; i++) meter.restarted();
  restartsSeen.set(meter, restarts);
  const latencies = Array.isArray(report.latency_new) ? report.latency_new : [];
  for (const ms of latencies.slice(-100)) {
    if (typeof ms === "number" && Number.isFinite(ms)) {
      meter.latency(ms, LatencySource.PIXEL_CLOCK);
    }
  }
}

/** Forgets what was seen of a meter's page (a new StartFlow counts from zero). */
export function resetSeen(meter: MediaMeter): void {
  restartsSeen.delete(meter);
}
