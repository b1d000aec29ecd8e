/** Media format helpers: keys, names for messages, comparison and transform costs. */
import { create } from "@bufbuild/protobuf";
import {
  type MediaFormat,
  MediaFormatSchema,
  MediaType,
  type TransformCost,
} from "@callassistant/protocol";

/** "video", "audio", or the number of an unknown media type. */
export function mediaName(type: MediaType): string {
  return type === MediaType.VIDEO ? "video" : type === MediaType.AUDIO ? "audio" : String(type);
}

/** A format with lower-case protocol and codec (the form every comparison uses). */
export function normalizeFormat(format: MediaFormat): MediaFormat {
  return create(MediaFormatSchema, {
    mediaType: format.mediaType,
    protocol: format.protocol.trim().toLowerCase(),
    codec: format.codec.trim().toLowerCase(),
  });
}

/** True when a format names a media type, a protocol and a codec. */
export function isValidFormat(format: MediaFormat): boolean {
  return (format.mediaType === MediaType.VIDEO || format.mediaType === MediaType.AUDIO) &&
    format.protocol.trim() !== "" && format.codec.trim() !== "";
}

/** "video/rtsp/h264": a unique key and a name for people. */
export function formatKey(format: MediaFormat): string {
  // The fields of normalizeFormat, without creating a message (path-finding calls this
  // for every edge of every search).
  const protocol = format.protocol.trim().toLowerCase();
  const codec = format.codec.trim().toLowerCase();
  return `${mediaName(format.mediaType)}/${protocol}/${codec}`;
}

/** A part of a cost as a usable number: NaN, infinite and negative values count as 0. */
function part(n: number): number {
  return Number.isFinite(n) && n > 0 ? n : 0;
}

/** Rounds away floating-point noise (costs are compared and shown with 6 decimals). */
export function roundCost(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}

/** The path-finder's cost of a transform: `cpu + latency_ms / 10 + quality_loss * 10`. */
export function transformCost(cost: TransformCost | undefined): number {
  if (!cost) return 0;
  return roundCost(part(cost.cpu) + part(cost.latencyMs) / 10 + part(cost.qualityLoss) * 10);
}
