/**
 * What a screen really plays, for the orchestrator's path-finding (`EntityStatus.formats`,
 * a `ProbedFormats`): the formats its page's players handle that its browser says it can
 * decode (`capabilities` of the page's report: `canPlayType`, `MediaSource.isTypeSupported`,
 * `RTCRtpReceiver.getCapabilities`), kept to the screen's `accept` list.
 */
import { MediaType } from "@callassistant/sdk";

/** What `accept` may name: protocols and codec families. */
export const ACCEPT_PROTOCOLS = ["webrtc", "hls", "mjpeg"] as const;
export const ACCEPT_CODECS = ["h264", "h265", "mjpeg", "vp8", "vp9", "av1"] as const;
/** Every word `accept` takes. */
export const ACCEPT_WORDS: readonly string[] = [
  ...ACCEPT_PROTOCOLS,
  ...ACCEPT_CODECS.filter((c) => c !== "mjpeg"),
];

/** A video format as `protocol/codec`. */
export interface PlayFormat {
  protocol: string;
  codec: string;
}

/** The formats the page's players can play at all (the type's declared inputs). */
export const PLAYABLE: PlayFormat[] = [
  { protocol: "webrtc", codec: "h264" },
  { protocol: "hls", codec: "h264" },
  { protocol: "mjpeg", codec: "mjpeg" },
];

/** True when `accept` (empty: everything) lets the screen play `f`. */
export function accepts(accept: readonly string[], f: PlayFormat): boolean {
  return accept.length === 0 || accept.includes(f.protocol) || accept.includes(f.codec);
}

/** The browser's capabilities as the page reports them (see assets/screen.js). */
export interface BrowserCapabilities {
  hls_native?: boolean;
  mse_h264?: boolean;
  mse_h265?: boolean;
  video_h264?: boolean;
  video_h265?: boolean;
  webrtc_video?: string[];
  mjpeg?: boolean;
}

/**
 * The formats a browser with `caps` plays on a screen page: WebRTC in every video codec
 * its receiver has that the bridge can send (H.264), HLS when it plays HLS by itself
 * and decodes H.264 (H.265 too when it says so), MJPEG when it decodes JPEG (every
 * browser). Without `caps` (no page has reported yet), the declared formats.
 */
export function browserFormats(caps: BrowserCapabilities | undefined): PlayFormat[] {
  if (!caps) return PLAYABLE;
  const out: PlayFormat[] = [];
  const rtc = Array.isArray(caps.webrtc_video) ? caps.webrtc_video : [];
  if (rtc.includes("h264")) out.push({ protocol: "webrtc", codec: "h264" });
  if (caps.hls_native && (caps.video_h264 || caps.mse_h264)) {
    out.push({ protocol: "hls", codec: "h264" });
  }
  if (caps.hls_native && (caps.video_h265 || caps.mse_h265)) {
    out.push({ protocol: "hls", codec: "h265" });
  }
  if (caps.mjpeg !== false) out.push({ protocol: "mjpeg", codec: "mjpeg" });
  return out;
}

/** The screen's `ProbedFormats` (inputs only) for its status. */
export function probedInputs(
  accept: readonly string[],
  caps: BrowserCapabilities | undefined,
  browser: string,
) {
  const inputs = browserFormats(caps).filter((f) => accepts(accept, f));
  const how = caps
    ? `${browser || "the page's browser"}: canPlayType, MediaSource.isTypeSupported, ` +
      "RTCRtpReceiver.getCapabilities"
    : "declared formats (no page has reported yet)";
  return {
    inputs: inputs.map((f) => ({ mediaType: MediaType.VIDEO, ...f })),
    inputsProbed: true,
    method: accept.length ? `${how}; accept: ${accept.join(", ")}` : how,
  };
}

/** Checks an `accept` configuration value; the error names what was wrong. */
export function parseAccept(raw: unknown): string[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw) || raw.some((w) => typeof w !== "string")) {
    throw new Error(`configuration.accept: expected a list of words, got ${JSON.stringify(raw)}`);
  }
  const words = raw.map((w) => (w as string).trim().toLowerCase());
  const unknown = words.find((w) => !ACCEPT_WORDS.includes(w));
  if (unknown !== undefined) {
    throw new Error(
      `configuration.accept: unknown "${unknown}" (known: ${ACCEPT_WORDS.join(", ")})`,
    );
  }
  return [...new Set(words)];
}

/** A short name of the browser from its user agent, e.g. "Chrome 131". */
export function browserName(userAgent: unknown): string {
  if (typeof userAgent !== "string") return "";
  const m = /(HeadlessChrome|Chrome|Firefox|Version)\/(\d+)/.exec(userAgent);
  if (!m) return userAgent.slice(0, 40);
  return `${m[1] === "Version" ? "Safari" : m[1]} ${m[2]}`;
}
