/**
 * Helpers of the media tests: Chromium with the flags WebRTC on loopback and autoplay
 * need, and reading what a screen page reports.
 */
import type { Page } from "playwright-core";
import { launchBrowser, type TestBrowser } from "../web/browser.ts";

/** Debian's interpreter (the first python3 on PATH may lack Debian's packages). */
export const PYTHON = "/usr/bin/python3";

/** The media modules' environment in tests: media addresses on loopback, free ports. */
export const MEDIA_ENV = {
  CA_MEDIA_HOST: "127.0.0.1",
  CA_SCREEN_HTTP_PORT: "0",
  CA_CAMERA_RTSP_PORT: "0",
};
/** Chromium flags of the media tests: WebRTC between loopback addresses (Chromium drops
 * loopback candidates otherwise), raw candidate addresses instead of mDNS names (no
 * multicast), autoplay without a click, and pages in background tabs rendered at full
 * rate (each screen page is the only page of its TV; here several share one browser). */
export const MEDIA_BROWSER_ARGS = [
  "--allow-loopback-in-peer-connection",
  "--disable-features=WebRtcHideLocalIpsWithMdns",
  "--autoplay-policy=no-user-gesture-required",
  "--disable-renderer-backgrounding",
  "--disable-background-timer-throttling",
  "--disable-backgrounding-occluded-windows",
];

/** Chromium for the media tests. */
export function launchMediaBrowser(): Promise<TestBrowser> {
  return launchBrowser(MEDIA_BROWSER_ARGS);
}

/** What a screen page reports (`window.screenStats`). */
export type ScreenStats = Record<string, unknown> & {
  state: string;
  message: string;
  protocol: string;
  flow_id: string;
  frames_decoded: number;
  frames_new: number;
  frames_presented: number;
  stalls: number;
  reconnects: number;
  width: number;
  height: number;
  codec: string;
  latency_ms: number;
  latency_p50_ms: number;
  latency_p95_ms: number;
  first_frame_ms: number;
  last_frame_age_ms: number;
  pixel_clock: boolean;
};

/** The page's figures now. */
export function screenStats(page: Page): Promise<ScreenStats> {
  return page.evaluate(() =>
    JSON.parse(JSON.stringify((globalThis as unknown as { screenStats: unknown }).screenStats))
  );
}

/** Polls the page's figures until `ok` holds; throws with the last figures after `ms`. */
export async function waitForStats(
  page: Page,
  ok: (s: ScreenStats) => boolean,
  ms: number,
  what: string,
): Promise<ScreenStats> {
  const end = Date.now() + ms;
  let last: ScreenStats | undefined;
  while (Date.now() < end) {
    last = await screenStats(page);
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what} not reached within ${ms} ms; page reports ${JSON.stringify(last)}`);
}

/** Events of the orchestrator's history whose type starts with `prefix`. */
export async function events(base: string, prefix: string): Promise<Record<string, unknown>[]> {
  const abort = new AbortController();
  const res = await fetch(`${base}/v1/events?afterId=0&types=${prefix}*`, {
    signal: abort.signal,
  });
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const timer = setTimeout(() => abort.abort(), 700);
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
  } catch {
    // Aborted: the history has been read.
  } finally {
    clearTimeout(timer);
  }
  return text.split("\n").filter(Boolean).map((l) => JSON.parse(l)).map((i) => i.event)
    .filter(Boolean);
}
