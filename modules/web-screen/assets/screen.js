// A screen page: asks its module four times a second what to play, plays it full screen,
// reconnects by itself, and reports what it really shows (frames, stalls, resolution,
// latency from the pixel clock, what this browser can decode). `window.screenStats`
// holds the same figures for tests.
import { isLater, latencyMs, readPixelClock } from "./pixel_clock.js";
import { HlsPlayer, MjpegPlayer, WhepPlayer } from "./players.js";

const POLL_MS = 250; // a module restarted on a new port is found within a quarter second
const STALL_MS = 2000; // no new frame this long: a stall
const RECONNECT_MS = 4000; // no new frame this long: start the player again
const RETRY_MS = 500; // after a player error
const PATIENCE_MS = 15_000; // errors this soon after a new source are "connecting"

const root = document.body;
const screenId = root.dataset.screen;
const base = `/screens/${encodeURIComponent(screenId)}`;
const stage = document.getElementById("stage");
const banner = document.getElementById("banner");
const info = document.getElementById("info");
const showInfo = new URLSearchParams(location.search).has("info") || root.dataset.info === "1";

/** What this browser can decode, for the orchestrator's path-finding. */
function capabilities() {
  const video = document.createElement("video");
  const mse = (type) => globalThis.MediaSource?.isTypeSupported?.(type) ?? false;
  const rtc = (kind) =>
    (globalThis.RTCRtpReceiver?.getCapabilities?.(kind)?.codecs ?? [])
      .map((c) => c.mimeType.split("/")[1].toLowerCase())
      .filter((c, i, all) =>
        !["rtx", "red", "ulpfec", "flexfec-03"].includes(c) &&
        all.indexOf(c) === i
      );
  return {
    hls_native: video.canPlayType("application/vnd.apple.mpegurl") !== "",
    video_h264: video.canPlayType('video/mp4; codecs="avc1.42E01F"') !== "",
    video_h265: video.canPlayType('video/mp4; codecs="hvc1.1.6.L93.B0"') !== "",
    mse_h264: mse('video/mp4; codecs="avc1.42E01F"'),
    mse_h265: mse('video/mp4; codecs="hvc1.1.6.L93.B0"'),
    mse_aac: mse('audio/mp4; codecs="mp4a.40.2"'),
    webrtc_video: rtc("video"),
    webrtc_audio: rtc("audio"),
    mjpeg: true,
  };
}

const stats = {
  screen: screenId,
  state: "idle",
  message: "waiting for a flow",
  protocol: "",
  url: "",
  flow_id: "",
  connection_id: "",
  frames_decoded: 0, // decoded by the browser since the page loaded
  frames_dropped: 0,
  frames_presented: 0, // shown (requestVideoFrameCallback / canvas draws)
  frames_new: 0, // shown with a pixel clock later than any before (test pattern only)
  pixel_clock: false,
  fps: 0,
  width: 0,
  height: 0,
  codec: "",
  bitrate_kbps: 0,
  stalls: 0,
  reconnects: 0,
  first_frame_ms: 0,
  last_frame_age_ms: -1,
  latency_ms: NaN,
  latency_p50_ms: NaN,
  latency_p95_ms: NaN,
  capabilities: capabilities(),
  user_agent: navigator.userAgent,
  // The current source alone (the MediaStats of its connection): new frames shown,
  // bytes received where the browser tells them, frames dropped, player restarts, and
  // the pixel-clock latencies measured since the last report.
  source_started_at: 0,
  frames_source: 0,
  bytes_source: 0,
  dropped_source: 0,
  restarts_source: 0,
  latency_new: [],
};
globalThis.screenStats = stats;

let source = null; // {protocol, url, flow_id, connection_id}
let player = null;
let attempt = 0;
let decodedBase = 0; // decoded frames of earlier players
let droppedBase = 0;
let bytesBase = 0;
let sourceDroppedStart = 0; // frames_dropped and bytes when the source was set
let sourceBytesStart = 0;
let reloadSeen = -1; // the module's reload count last seen
let accept = []; // the protocols and codecs this screen may play; empty: all
let startedAt = 0;
let sourceSetAt = 0;
let lastNewFrameAt = 0;
let lastClock = -1;
let stalled = false;
let retryTimer = 0;
const recentFrames = []; // display times of the last 2 s
const latencies = []; // the last 100 pixel-clock latencies

function onFrame(drawable, width, height, displayedAt) {
  const now = performance.now();
  stats.frames_presented++;
  recentFrames.push(now);
  let isNew = true;
  const clock = readPixelClock(drawable, width, height);
  if (clock >= 0) {
    stats.pixel_clock = true;
    isNew = isLater(clock, lastClock);
    if (isNew) {
      lastClock = clock;
      const latency = latencyMs(clock, displayedAt);
      if (!Number.isNaN(latency)) {
        latencies.push(latency);
        if (latencies.length > 100) latencies.shift();
        if (stats.latency_new.length < 200) stats.latency_new.push(Math.round(latency));
      }
    }
  } else if (stats.pixel_clock) {
    isNew = false; // a frame we cannot read from a source that has a clock: not proof
  }
  if (!isNew) return;
  stats.frames_new++;
  stats.frames_source++;
  lastNewFrameAt = now;
  if (!stats.first_frame_ms && startedAt) stats.first_frame_ms = Math.round(now - startedAt);
  if (stats.state !== "playing") setState("playing", "");
  stalled = false;
}

function onError(message) {
  // A converter needs a few seconds for its first segments: not an error yet.
  const patient = !stats.first_frame_ms && performance.now() - sourceSetAt < PATIENCE_MS;
  setState(patient ? "connecting" : "error", patient ? `retrying: ${message}` : message);
  clearTimeout(retryTimer);
  retryTimer = setTimeout(() => {
    retryTimer = 0;
    restart("error");
  }, RETRY_MS);
}

function setState(state, message) {
  stats.state = state;
  stats.message = message;
  render();
}

const PLAYERS = { hls: HlsPlayer, webrtc: WhepPlayer, mjpeg: MjpegPlayer };

/** The codec a protocol carries here. */
const CODECS = { hls: "h264", webrtc: "h264", mjpeg: "mjpeg" };

function makePlayer(src) {
  const Player = PLAYERS[src.protocol];
  if (!Player) return null;
  if (accept.length && !accept.includes(src.protocol) && !accept.includes(CODECS[src.protocol])) {
    return null; // this screen is configured not to play it
  }
  // A player that was replaced may still fire (a video losing its src errors): ignore it.
  const hooks = {
    frame: (...args) => p === player && onFrame(...args),
    error: (message) => p === player && onError(message),
  };
  const p = new Player(src.url, stage, hooks);
  return p;
}

function stopPlayer() {
  if (!player) return;
  const c = player.counters();
  decodedBase += c.decoded ?? 0;
  droppedBase += c.dropped ?? 0;
  bytesBase += c.bytes ?? 0;
  player.close();
  player = null;
}

function startPlayer() {
  clearTimeout(retryTimer);
  retryTimer = 0;
  stopPlayer();
  if (!source) {
    stage.replaceChildren();
    setState("idle", "waiting for a flow");
    return;
  }
  player = makePlayer(source);
  if (!player) {
    const why = PLAYERS[source.protocol]
      ? `this screen accepts only ${accept.join(", ")}, not ${source.protocol}`
      : `this page cannot play ${source.protocol}`;
    setState("error", why);
    return;
  }
  attempt++;
  startedAt = performance.now();
  lastNewFrameAt = startedAt;
  setState("connecting", `${source.protocol} ${source.url}`);
  player.start(attempt);
}

function restart(why) {
  if (!source) return;
  stats.reconnects++;
  stats.restarts_source++;
  stats.message = `reconnecting (${why})`;
  startPlayer();
}

/** Asks the module what to play; switches when it changed. */
async function poll() {
  try {
    const res = await fetch(`${base}/source`, { cache: "no-store" });
    if (res.status === 404) {
      location.reload(); // the screen was removed: the server shows why
      return;
    }
    const body = await res.json();
    accept = Array.isArray(body.accept) ? body.accept : [];
    document.title = body.name || screenId;
    banner.querySelector(".name").textContent = body.name || screenId;
    const next = body.source;
    const changed = JSON.stringify(next) !== JSON.stringify(source);
    const reload = body.reload ?? 0;
    if (changed) {
      source = next;
      Object.assign(stats, {
        protocol: next?.protocol ?? "",
        url: next?.url ?? "",
        flow_id: next?.flow_id ?? "",
        connection_id: next?.connection_id ?? "",
        first_frame_ms: 0,
        source_started_at: next?.started_at ?? 0,
        frames_source: 0,
        restarts_source: 0,
        latency_new: [],
      });
      sourceDroppedStart = stats.frames_dropped;
      sourceBytesStart = bytesBase + (player?.counters().bytes ?? 0);
      lastClock = -1;
      sourceSetAt = performance.now();
      startPlayer();
    } else if (reloadSeen >= 0 && reload !== reloadSeen) {
      restart("asked by the orchestrator"); // ReestablishConnection
    }
    reloadSeen = reload;
  } catch {
    // The module is restarting; keep playing what we have.
  }
}

function percentile(values, p) {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Updates the figures, watches for stalls, and reports to the module. */
async function tick() {
  const now = performance.now();
  while (recentFrames.length && now - recentFrames[0] > 2000) recentFrames.shift();
  stats.fps = Math.round((recentFrames.length / 2) * 10) / 10;
  if (player) {
    await player.poll?.();
    const c = player.counters();
    stats.frames_decoded = decodedBase + (c.decoded ?? 0);
    stats.frames_dropped = droppedBase + (c.dropped ?? 0);
    stats.width = c.width ?? 0;
    stats.height = c.height ?? 0;
    stats.codec = c.codec ?? "";
    stats.bitrate_kbps = c.bitrateKbps ?? 0;
    stats.dropped_source = Math.max(0, stats.frames_dropped - sourceDroppedStart);
    stats.bytes_source = Math.max(0, bytesBase + (c.bytes ?? 0) - sourceBytesStart);
    const quiet = now - lastNewFrameAt;
    stats.last_frame_age_ms = Math.round(quiet);
    if (stats.state === "playing" && quiet > STALL_MS && !stalled) {
      stalled = true;
      stats.stalls++;
      setState("stalled", `no new frame for ${Math.round(quiet / 1000)} s`);
    }
    const patience = stats.first_frame_ms ? RECONNECT_MS : 2 * RECONNECT_MS;
    if (quiet > patience && !retryTimer) restart("no new frame");
  }
  const recent = latencies.slice(-10);
  stats.latency_ms = percentile(recent, 50);
  stats.latency_p50_ms = percentile(latencies, 50);
  stats.latency_p95_ms = percentile(latencies, 95);
  render();
  const body = JSON.stringify(stats, (_k, v) => (typeof v === "number" && !isFinite(v) ? null : v));
  stats.latency_new = []; // each latency is reported once
  fetch(`${base}/report`, { method: "POST", body, headers: { "Content-Type": "application/json" } })
    .catch(() => {});
}

function render() {
  root.dataset.state = stats.state;
  banner.querySelector(".state").textContent = stats.state === "idle"
    ? "waiting for a flow"
    : stats.message;
  if (!showInfo) return;
  const lat = Number.isNaN(stats.latency_ms) ? "-" : `${Math.round(stats.latency_ms)} ms`;
  info.textContent = `${stats.protocol || "-"} ${stats.codec} ${stats.width}x${stats.height} ` +
    `${stats.fps} fps | decoded ${stats.frames_decoded} new ${stats.frames_new} | ` +
    `latency ${lat} | stalls ${stats.stalls}`;
}

// Click: full screen, and sound on (browsers start media only muted).
document.addEventListener("click", () => {
  document.documentElement.requestFullscreen?.().catch(() => {});
  for (const v of document.querySelectorAll("video")) v.muted = false;
});

setInterval(poll, POLL_MS);
setInterval(tick, 1000);
poll();
