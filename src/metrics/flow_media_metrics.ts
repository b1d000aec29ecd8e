/**
 * The media of flows in `/metrics`, as the media watchdog judges it (flow_watchdog.ts):
 *
 * - `callassistant_flow_hop_fps{flow,connection,side,module}`,
 *   `callassistant_flow_hop_bitrate_kbps{...}`, `callassistant_flow_hop_frames_total{...}`:
 *   the last `MediaStats` of every measured side of every connection of a running flow;
 *   `callassistant_flow_hop_stalled{...}` 1 while the watchdog judges the side STALLED.
 * - `callassistant_flow_hop_latency_seconds{flow,connection,side}`: a histogram of the
 *   latency figures the modules report (one observation per report);
 *   `callassistant_flow_latency_seconds{flow}` the end-to-end latency now.
 * - `callassistant_flow_stalls_total{flow}`, `callassistant_flow_reestablishments_total`,
 *   `callassistant_flow_reroutes_total`: what the watchdog detected and did.
 * - `callassistant_flow_time_to_first_frame_seconds`: a histogram, one observation per
 *   (re)start whose target presented a frame; `..._last_seconds{flow}` the latest.
 */
import { durationMs } from "@bufbuild/protobuf/wkt";
import { type FlowHealth, HopState, MediaSide } from "@callassistant/protocol";
import type { FlowRecord } from "../flows/flow_records.ts";
import type { FlowWatchdog } from "../flows/flow_watchdog.ts";
import * as client from "./prom.ts";

const LATENCY_BUCKETS = [0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10];
/** How long one judgement of a flow serves the families of a scrape. */
const JUDGED_REUSE_MS = 200;
const FIRST_FRAME_BUCKETS = [0.25, 0.5, 1, 2, 3, 5, 8, 13, 20, 30, 60];

/** What the series read. */
export interface FlowMediaSources {
  /** Every flow. */
  flows(): FlowRecord[];
  watchdog: FlowWatchdog;
}

const sideName = (side: MediaSide) => (MediaSide[side] ?? String(side)).toLowerCase();

/** Registers the flow media series in `registry`. */
export function registerFlowMediaMetrics(
  registry: client.Registry,
  sources: FlowMediaSources,
): void {
  const reg = [registry];
  const hopLabels = ["flow", "connection", "side", "module"] as const;
  const { watchdog } = sources;
  /**
   * Every flow's health, judged once per scrape: the families below are collected one
   * after the other within milliseconds, and a judgement older than that is not reused.
   */
  let judged: { at: number; health: Map<FlowRecord, FlowHealth> } | undefined;
  const healthOf = (flow: FlowRecord): FlowHealth => {
    const now = Date.now();
    if (!judged || now - judged.at > JUDGED_REUSE_MS) judged = { at: now, health: new Map() };
    let health = judged.health.get(flow);
    if (!health) judged.health.set(flow, health = watchdog.health(flow));
    return health;
  };
  /** The judged hops of running flows. */
  const measuredHops = () =>
    sources.flows().filter((f) => f.wanted && f.established).flatMap((flow) =>
      healthOf(flow).hops.filter((h) => h.stats).map((h) => ({ flow, h }))
    );
  const labels = (
    flow: FlowRecord,
    h: { connectionId: string; side: MediaSide; module: string },
  ) => ({
    flow: flow.id,
    connection: h.connectionId,
    side: sideName(h.side),
    module: h.module,
  });
  new client.Gauge({
    name: "callassistant_flow_hop_fps",
    help: "Frames per second a module reports on one side of one connection of a flow.",
    labelNames: hopLabels,
    registers: reg,
    collect() {
      this.reset();
      for (const { flow, h } of measuredHops()) this.set(labels(flow, h), h.stats!.fps);
    },
  });
  new client.Gauge({
    name: "callassistant_flow_hop_bitrate_kbps",
    help: "Kilobits per second a module reports on one side of one connection of a flow.",
    labelNames: hopLabels,
    registers: reg,
    collect() {
      this.reset();
      for (const { flow, h } of measuredHops()) this.set(labels(flow, h), h.stats!.bitrateKbps);
    },
  });
  new client.Counter({
    name: "callassistant_flow_hop_frames_total",
    help: "Frames since the side's media started (MediaStats.frames), per side of a connection.",
    labelNames: hopLabels,
    registers: reg,
    collect() {
      this.reset();
      for (const { flow, h } of measuredHops()) this.inc(labels(flow, h), Number(h.stats!.frames));
    },
  });
  new client.Gauge({
    name: "callassistant_flow_hop_stalled",
    help: "1 while the media watchdog judges the side of the connection STALLED.",
    labelNames: hopLabels,
    registers: reg,
    collect() {
      this.reset();
      for (const { flow, h } of measuredHops()) {
        this.set(labels(flow, h), h.state === HopState.STALLED ? 1 : 0);
      }
    },
  });
  new client.Gauge({
    name: "callassistant_flow_latency_seconds",
    help: "End-to-end latency of a running flow (pixel clock, else the modules' estimates).",
    labelNames: ["flow"] as const,
    registers: reg,
    collect() {
      this.reset();
      for (const flow of sources.flows()) {
        if (!flow.wanted || !flow.established) continue;
        const ms = healthOf(flow).latencyMs;
        if (ms > 0) this.set({ flow: flow.id }, ms / 1000);
      }
    },
  });
  for (
    const [name, key, help] of [
      ["callassistant_flow_stalls_total", "stalls", "Stalls the media watchdog detected."],
      [
        "callassistant_flow_reestablishments_total",
        "reestablishments",
        "Connections the media watchdog re-established (ReestablishConnection or a rebuild).",
      ],
      ["callassistant_flow_reroutes_total", "reroutes", "Re-routes the media watchdog made."],
    ] as const
  ) {
    new client.Counter({
      name,
      help,
      labelNames: ["flow"] as const,
      registers: reg,
      collect() {
        this.reset();
        for (const flow of sources.flows()) {
          this.inc({ flow: flow.id }, watchdog.counters(flow.id)[key]);
        }
      },
    });
  }
  new client.Gauge({
    name: "callassistant_flow_time_to_first_frame_last_seconds",
    help: "From the flow's latest (re)start to its target's first presented frame.",
    labelNames: ["flow"] as const,
    registers: reg,
    collect() {
      this.reset();
      for (const flow of sources.flows()) {
        const ttff = healthOf(flow).timeToFirstFrame;
        if (ttff) this.set({ flow: flow.id }, durationMs(ttff) / 1000);
      }
    },
  });
  const hopLatency = new client.Histogram({
    name: "callassistant_flow_hop_latency_seconds",
    help: "Latency figures modules report per side of a connection (one observation a report).",
    labelNames: ["flow", "connection", "side"] as const,
    buckets: LATENCY_BUCKETS,
    registers: reg,
    collect() {
      // A deleted flow's series go, and a re-routed flow's old connections with them.
      const live = new Set(
        sources.flows().flatMap((f) => f.connections.map((c) => `${f.id}\u0000${c.id}`)),
      );
      this.removeWhere((l) => !live.has(`${l.flow}\u0000${l.connection}`));
    },
  });
  const firstFrame = new client.Histogram({
    name: "callassistant_flow_time_to_first_frame_seconds",
    help: "From a flow's (re)start to its target's first presented frame, per (re)start.",
    labelNames: ["flow"] as const,
    buckets: FIRST_FRAME_BUCKETS,
    registers: reg,
    collect() {
      const live = new Set(sources.flows().map((f) => f.id));
      this.removeWhere((l) => !live.has(l.flow));
    },
  });
  watchdog.observe({
    latency: (flow, hop, ms) =>
      hopLatency.observe(
        { flow, connection: hop.connectionId, side: sideName(hop.side) },
        ms / 1000,
      ),
    firstFrame: (flow, ms) => firstFrame.observe({ flow }, ms / 1000),
  });
}
