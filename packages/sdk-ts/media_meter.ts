/**
 * `MediaMeter`: the figures of one side of one connection (`MediaStats` in the contract),
 * counted as media passes, so a module does not work out fps, bitrate, last-frame time,
 * stalls and latency percentiles itself. Report them with
 * `mod.events.media(flowId, [meter, ...])` about once a second while the flow runs.
 *
 * ```ts
 * const meter = new MediaMeter({ connectionId: "cam-to-tv-video-0", side: MediaSide.SENT, codec: "h264" });
 * meter.frames(1, packet.byteLength);      // as each frame leaves
 * meter.totals(progress.frame, progress.totalSize);  // or from a counter kept elsewhere
 * setInterval(() => mod.events.media(flowId, [meter]), 1000);
 * ```
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  LatencySource,
  MediaSide,
  type MediaStats,
  MediaStatsSchema,
} from "@callassistant/protocol";

/** How a meter is made. */
export interface MediaMeterOptions {
  /** The connection, as in ConnectEntities. */
  connectionId: string;
  /** Which side measures: SENT (a sender), RECEIVED or PRESENTED (a receiver). */
  side: MediaSide;
  /** The codec carried or decoded, lower case ("h264"); settable later. */
  codec?: string;
  /** The clock, ms since the epoch (tests give their own). */
  now?: () => number;
  /** The window of fps and bitrate, ms (2000). */
  windowMs?: number;
  /** A gap this long without a new frame is a stall, ms (2000, as the contract says). */
  stallGapMs?: number;
}

/** How many latency samples are kept (the p95 span) and how many the median spans. */
const LATENCY_KEEP = 100;
const LATENCY_RECENT = 10;
/** Rate samples closer than this are merged. */
const SAMPLE_MS = 100;

function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Counts one side of one connection; `stats()` is its `MediaStats`. */
export class MediaMeter {
  readonly connectionId: string;
  readonly side: MediaSide;
  /** The codec carried or decoded. */
  codec: string;
  /** The picture size, 0 when unknown. */
  width = 0;
  height = 0;
  readonly #now: () => number;
  readonly #windowMs: number;
  readonly #stallGapMs: number;
  #startedAt: number;
  #frames = 0;
  #bytes = 0;
  #dropped = 0;
  #stalls = 0;
  #restarts = 0;
  #firstFrameAt = 0;
  #lastFrameAt = 0;
  #inGap = false;
  #externalFrames = 0;
  #externalBytes = 0;
  #externalDropped = 0;
  #samples: [number, number, number][] = [];
  #latencies: number[] = [];
  #latencySource = LatencySource.UNSPECIFIED;

  constructor(options: MediaMeterOptions) {
    if (!options.connectionId) throw new TypeError("MediaMeter: connectionId is required");
    if (!options.side) throw new TypeError("MediaMeter: side must be SENT, RECEIVED or PRESENTED");
    this.connectionId = options.connectionId;
    this.side = options.side;
    this.codec = options.codec ?? "";
    this.#now = options.now ?? Date.now;
    this.#windowMs = options.windowMs ?? 2000;
    this.#stallGapMs = options.stallGapMs ?? 2000;
    this.#startedAt = this.#now();
  }

  /** Counts `count` new frames carrying `bytes` in all, now. */
  frames(count = 1, bytes = 0): void {
    const now = this.#now();
    if (count > 0) {
      this.#checkStall(now);
      if (!this.#firstFrameAt) this.#firstFrameAt = now;
      this.#lastFrameAt = now;
      this.#inGap = false;
      this.#frames += count;
    }
    this.#bytes += Math.max(0, bytes);
    this.#sample(now);
  }

  /** Counts bytes that came without a frame of their own (headers, audio beside video). */
  bytes(bytes: number): void {
    this.frames(0, bytes);
  }

  /**
   * Takes totals from a counter kept elsewhere (ffmpeg's progress, a browser's
   * `framesDecoded`): what grew since the last call is counted. A total smaller than the
   * last (that counter started again, e.g. a restarted process) counts from zero.
   */
  totals(frames: number, bytes?: number): void {
    const grown = (total: number, last: number) => total >= last ? total - last : total;
    const newFrames = grown(frames, this.#externalFrames);
    this.#externalFrames = frames;
    let newBytes = 0;
    if (bytes !== undefined) {
      newBytes = grown(bytes, this.#externalBytes);
      this.#externalBytes = bytes;
    }
    this.frames(newFrames, newBytes);
  }

  /**
   * Takes the current totals of a counter kept elsewhere as the starting point of
   * `totals` and `droppedTotal`: what it counted before (another flow's frames of a shared stream) is not
   * counted here.
   */
  baseline(frames: number, bytes = 0, dropped = 0): void {
    this.#externalFrames = Math.max(0, frames);
    this.#externalBytes = Math.max(0, bytes);
    this.#externalDropped = Math.max(0, dropped);
  }

  /** Counts `count` frames lost at this side. */
  dropped(count = 1): void {
    this.#dropped += Math.max(0, count);
  }

  /** Takes a total of lost frames from a counter kept elsewhere (see `totals`). */
  droppedTotal(total: number): void {
    this.#dropped += total >= this.#externalDropped ? total - this.#externalDropped : total;
    this.#externalDropped = total;
  }

  /** Records one frame's latency in ms, and how it was measured. */
  latency(ms: number, source: LatencySource): void {
    if (!Number.isFinite(ms)) return;
    this.#latencies.push(ms);
    if (this.#latencies.length > LATENCY_KEEP) this.#latencies.shift();
    this.#latencySource = source;
  }

  /** The picture size. */
  size(width: number, height: number): void {
    this.width = Math.max(0, Math.round(width));
    this.height = Math.max(0, Math.round(height));
  }

  /** Notes that this side's media was restarted (own recovery, ReestablishConnection). */
  restarted(): void {
    this.#restarts++;
  }

  /** Starts counting again from zero (a new StartFlow): a new `started_at`. */
  reset(): void {
    this.#startedAt = this.#now();
    this.#frames =
      this.#bytes =
      this.#dropped =
      this.#stalls =
      this.#restarts =
        0;
    this.#firstFrameAt = this.#lastFrameAt = 0;
    this.#inGap = false;
    this.#samples = [];
    this.#latencies = [];
    this.#latencySource = LatencySource.UNSPECIFIED;
  }

  /** Frames counted since `started_at`. */
  get frameCount(): number {
    return this.#frames;
  }

  /** The figures now, as the contract's `MediaStats`. */
  stats(): MediaStats {
    const now = this.#now();
    this.#checkStall(now);
    this.#sample(now);
    const [fps, bytesPerS] = this.#rates(now);
    const recent = this.#latencies.slice(-LATENCY_RECENT);
    const measured = this.#latencies.length > 0;
    return create(MediaStatsSchema, {
      connectionId: this.connectionId,
      side: this.side,
      measuredAt: timestampFromMs(now),
      startedAt: timestampFromMs(this.#startedAt),
      frames: BigInt(this.#frames),
      bytes: BigInt(this.#bytes),
      fps: Math.round(fps * 10) / 10,
      bitrateKbps: Math.round((bytesPerS * 8) / 100) / 10,
      firstFrameAt: this.#firstFrameAt ? timestampFromMs(this.#firstFrameAt) : undefined,
      lastFrameAt: this.#lastFrameAt ? timestampFromMs(this.#lastFrameAt) : undefined,
      stalls: this.#stalls,
      framesDropped: BigInt(this.#dropped),
      width: this.width,
      height: this.height,
      codec: this.codec,
      latencyMs: measured ? Math.round(percentile(recent, 50) * 10) / 10 : 0,
      latencyP95Ms: measured ? Math.round(percentile(this.#latencies, 95) * 10) / 10 : 0,
      latencySource: measured ? this.#latencySource : LatencySource.UNSPECIFIED,
      restarts: this.#restarts,
    });
  }

  /** A gap that reached the stall length counts once. */
  #checkStall(now: number): void {
    if (this.#lastFrameAt && !this.#inGap && now - this.#lastFrameAt >= this.#stallGapMs) {
      this.#stalls++;
      this.#inGap = true;
    }
  }

  #sample(now: number): void {
    const last = this.#samples.at(-1);
    if (last && now - last[0] < SAMPLE_MS && this.#samples.length > 1) {
      last[1] = this.#frames;
      last[2] = this.#bytes;
    } else {
      this.#samples.push([now, this.#frames, this.#bytes]);
    }
    // Keep the newest sample older than the window: the base of the rates.
    while (this.#samples.length > 2 && now - this.#samples[1][0] >= this.#windowMs) {
      this.#samples.shift();
    }
  }

  /** Frames and bytes per second over the window (or what there is of it). */
  #rates(now: number): [number, number] {
    const base = this.#samples[0];
    const span = now - base[0];
    if (span < 200) return [0, 0];
    return [(this.#frames - base[1]) * 1000 / span, (this.#bytes - base[2]) * 1000 / span];
  }
}

export { LatencySource, MediaSide };
