/**
 * `FlowMeters`: the `MediaMeter`s of the flows a module runs, reported to the
 * orchestrator about once a second while a flow is started (what `FlowStatus.media` asks
 * of a module), so that reporting media takes a meter per connection and side and
 * nothing else.
 *
 * ```ts
 * const media = new FlowMeters(() => mod.events, { refresh: () => copyTotals() });
 * media.meter(flowId, connectionId, MediaSide.PRESENTED).frames(1, bytes);
 * media.start(flowId);   // StartFlow: counting from zero, reports at 1 Hz
 * media.stop(flowId);    // StopFlow: no more reports
 * media.forget({ connectionId });  // DisconnectEntities
 * ({ flowId, media: media.stats(flowId) });  // in GetFlowStatus answers
 * ```
 */
import type { MediaSide, MediaStats } from "@callassistant/protocol";
import type { EventReporter } from "./events.ts";
import { MediaMeter } from "./media_meter.ts";

/** How often the media of a started flow is reported, ms. */
export const MEDIA_REPORT_EVERY_MS = 1000;

/** How FlowMeters report. */
export interface FlowMetersOptions {
  /** Called before each report and each `stats()`: copy totals kept elsewhere. */
  refresh?: () => void;
  /** The report period, ms (1000). */
  everyMs?: number;
  /** Where a failing `refresh` is logged. */
  log?: (line: string) => void;
}

/** The meters of every flow of a module, by flow, connection and side. */
export class FlowMeters {
  readonly #events: () => EventReporter | undefined;
  readonly #options: FlowMetersOptions;
  /** flow id -> "connection id/side" -> meter */
  readonly #meters = new Map<string, Map<string, MediaMeter>>();
  readonly #started = new Set<string>();
  #timer: ReturnType<typeof setInterval> | undefined;

  /** `events` gives the module's reporter at report time (it may not exist yet). */
  constructor(events: () => EventReporter | undefined, options: FlowMetersOptions = {}) {
    this.#events = events;
    this.#options = options;
  }

  /** The meter of one side of one connection of a flow, made on first use. */
  meter(flowId: string, connectionId: string, side: MediaSide, codec = ""): MediaMeter {
    let flow = this.#meters.get(flowId);
    if (!flow) this.#meters.set(flowId, flow = new Map());
    const key = `${connectionId}/${side}`;
    let m = flow.get(key);
    if (!m) flow.set(key, m = new MediaMeter({ connectionId, side, codec }));
    else if (codec) m.codec = codec;
    return m;
  }

  /** The meters of a flow. */
  meters(flowId: string): MediaMeter[] {
    return [...(this.#meters.get(flowId)?.values() ?? [])];
  }

  /** True while the flow's media is reported. */
  started(flowId: string): boolean {
    return this.#started.has(flowId);
  }

  /** The flow started: its meters count from zero; reported every second until `stop`. */
  start(flowId: string): void {
    for (const m of this.meters(flowId)) m.reset();
    this.#started.add(flowId);
    if (this.#timer === undefined) {
      this.#timer = setInterval(
        () => this.report(),
        this.#options.everyMs ?? MEDIA_REPORT_EVERY_MS,
      );
      // The reports never keep a process alive by themselves.
      Deno.unrefTimer(this.#timer);
    }
  }

  /** The flow stopped: no more reports; the meters are kept. */
  stop(flowId: string): void {
    this.#started.delete(flowId);
  }

  /** Drops the meters of a connection (DisconnectEntities), or of a whole flow. */
  forget(what: { flowId?: string; connectionId?: string }): void {
    for (const [flowId, flow] of this.#meters) {
      if (what.flowId && flowId !== what.flowId) continue;
      for (const key of [...flow.keys()]) {
        if (!what.connectionId || key.startsWith(`${what.connectionId}/`)) flow.delete(key);
      }
      if (flow.size === 0) {
        this.#meters.delete(flowId);
        this.#started.delete(flowId);
      }
    }
  }

  /** The flow's `MediaStats` now (GetFlowStatus, StartFlow answers); empty when stopped. */
  stats(flowId: string): MediaStats[] {
    if (!this.#started.has(flowId)) return [];
    this.#refresh();
    return this.meters(flowId).map((m) => m.stats());
  }

  /** Reports the media of every started flow now (one media-only status per flow). */
  report(): void {
    if (this.#started.size === 0) return;
    this.#refresh();
    const events = this.#events();
    if (!events) return;
    for (const flowId of this.#started) {
      const meters = this.meters(flowId);
      if (meters.length) void events.media(flowId, meters);
    }
  }

  /** Stops reporting for good (at shutdown). */
  close(): void {
    this.#started.clear();
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #refresh(): void {
    try {
      this.#options.refresh?.();
    } catch (err) {
      this.#options.log?.(`WARN media refresh failed: ${err}`);
    }
  }
}
