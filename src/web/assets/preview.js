// The live preview of an entity's media on the overview page: MJPEG read with fetch and
// drawn on a canvas, HLS with the browser's own <video> player, WebRTC through WHEP. Every
// request goes to this origin (`/preview/entities/<id>/...`, relayed by the orchestrator),
// so the page's CSP allows nothing else. Frames shown are counted on the element
// (`data-frames`), with the protocol (`data-protocol`), for people and tests.

import { h, setText } from "./dom.js";
import { enc } from "./api.js";

/** Called for each frame shown, with its size. */
/** @typedef {(width: number, height: number) => void} OnFrame */
/**
 * Plays `url` into `stage` until `signal` aborts; rejects when it cannot (or stops).
 * @typedef {(
 *   url: string,
 *   stage: HTMLElement,
 *   onFrame: OnFrame,
 *   signal: AbortSignal,
 * ) => Promise<void>} Player
 */

const CRLF2 = [13, 10, 13, 10];

/** @param {Uint8Array} bytes @param {number[]} pattern @param {number} from */
function indexOf(bytes, pattern, from) {
  outer: for (let i = from; i <= bytes.length - pattern.length; i++) {
    for (let j = 0; j < pattern.length; j++) if (bytes[i + j] !== pattern[j]) continue outer;
    return i;
  }
  return -1;
}

/** The next complete JPEG of a multipart buffer ({data, end}), or undefined. */
/** @param {Uint8Array} bytes */
function nextJpeg(bytes) {
  const headerEnd = indexOf(bytes, CRLF2, 0);
  if (headerEnd < 0) return undefined;
  const header = new TextDecoder().decode(bytes.subarray(0, headerEnd));
  const length = /content-length:\s*(\d+)/i.exec(header);
  const start = headerEnd + 4;
  if (length) {
    const end = start + Number(length[1]);
    return end <= bytes.length ? { data: bytes.slice(start, end), end } : undefined;
  }
  const eoi = indexOf(bytes, [0xff, 0xd9], start);
  return eoi < 0 ? undefined : { data: bytes.slice(start, eoi + 2), end: eoi + 2 };
}

/** @type {Player} */
async function playMjpeg(url, stage, onFrame, signal) {
  const canvas = h("canvas", { class: "preview-media" });
  stage.replaceChildren(canvas);
  // A new canvas always has a 2d context.
  const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext("2d"));
  const res = await fetch(url, { signal, cache: "no-store" });
  if (!res.ok) throw new Error(`MJPEG: HTTP ${res.status}`);
  // A 2xx answer to a GET has a body.
  const reader = /** @type {ReadableStream<Uint8Array>} */ (res.body).getReader();
  let buffer = new Uint8Array(0);
  while (!signal.aborted) {
    const { value, done } = await reader.read();
    if (done) throw new Error("MJPEG: the stream ended");
    const joined = new Uint8Array(buffer.length + value.length);
    joined.set(buffer);
    joined.set(value, buffer.length);
    buffer = joined;
    let jpeg;
    while ((jpeg = nextJpeg(buffer))) {
      buffer = buffer.subarray(jpeg.end);
      const bitmap = await createImageBitmap(new Blob([jpeg.data], { type: "image/jpeg" }));
      if (canvas.width !== bitmap.width) canvas.width = bitmap.width;
      if (canvas.height !== bitmap.height) canvas.height = bitmap.height;
      ctx.drawImage(bitmap, 0, 0);
      bitmap.close();
      onFrame(canvas.width, canvas.height);
    }
  }
}

/** @param {HTMLElement} stage */
function videoElement(stage) {
  const video = h("video", { class: "preview-media" });
  video.muted = true;
  video.autoplay = true;
  video.playsInline = true;
  stage.replaceChildren(video);
  return video;
}

/** @param {HTMLVideoElement} video @param {OnFrame} onFrame @param {AbortSignal} signal */
function countVideoFrames(video, onFrame, signal) {
  /** @type {VideoFrameRequestCallback} */
  const step = (_now, meta) => {
    if (signal.aborted) return;
    onFrame(meta.width, meta.height);
    video.requestVideoFrameCallback(step);
  };
  video.requestVideoFrameCallback(step);
}

/** @type {Player} */
function playHls(url, stage, onFrame, signal) {
  const video = videoElement(stage);
  return new Promise((_, reject) => {
    video.addEventListener("error", () => {
      reject(new Error(`HLS: ${video.error?.message || `media error ${video.error?.code}`}`));
    });
    signal.addEventListener("abort", () => {
      video.removeAttribute("src");
      video.load();
    });
    if (video.canPlayType("application/vnd.apple.mpegurl") === "") {
      reject(new Error("this browser cannot play HLS by itself"));
      return;
    }
    countVideoFrames(video, onFrame, signal);
    video.src = url;
  });
}

/** @type {Player} */
async function playWhep(url, stage, onFrame, signal) {
  const video = videoElement(stage);
  const pc = new RTCPeerConnection({ iceServers: [] });
  signal.addEventListener("abort", () => pc.close());
  pc.addTransceiver("video", { direction: "recvonly" });
  pc.addTransceiver("audio", { direction: "recvonly" });
  const stream = new MediaStream();
  pc.ontrack = (e) => {
    stream.addTrack(e.track);
    video.srcObject = stream;
  };
  await pc.setLocalDescription(await pc.createOffer());
  // A complete offer (the bridge takes no trickled candidates).
  await new Promise((/** @type {(value?: unknown) => void} */ resolve) => {
    if (pc.iceGatheringState === "complete") return resolve();
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") resolve();
    });
    setTimeout(resolve, 2000);
  });
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    // Set just above.
    body: JSON.stringify({ sdp: /** @type {RTCSessionDescription} */ (pc.localDescription).sdp }),
    signal,
  });
  /** @type {{ sdp?: string, location?: string, message?: string }} the relay's answer */
  const answer = await res.json().catch(() => ({}));
  if (res.status !== 201) throw new Error(`WHEP: ${answer.message || `HTTP ${res.status}`}`);
  signal.addEventListener("abort", () => {
    if (answer.location) fetch(answer.location, { method: "DELETE" }).catch(() => {});
  });
  await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
  countVideoFrames(video, onFrame, signal);
  await new Promise((_, reject) => {
    pc.addEventListener("connectionstatechange", () => {
      if (pc.connectionState === "failed") reject(new Error("WebRTC: the connection failed"));
    });
  });
}

const PLAYERS = { mjpeg: playMjpeg, hls: playHls, webrtc: playWhep };

/**
 * What `GET /preview/entities/{id}` answers (src/web/preview.ts): the protocol is one of
 * the browser's (the relay offers no other); `message` on an error.
 * @typedef {{ protocol: keyof typeof PLAYERS, url: string, message?: string }} PreviewAnswer
 */

/**
 * A preview panel for entity `entityId` titled `title`, playing until `stop()`. After an
 * error it tries again every 3 s (a flow being re-routed comes back by itself).
 */
/** @param {string} entityId @param {string} title @param {() => void} [onClose] */
export function preview(entityId, title, onClose) {
  const stage = h("div", { class: "preview-stage" });
  const info = h("p", { class: "preview-info muted small", "aria-live": "polite" }, "Starting…");
  const close = h("button", { type: "button", class: "btn", onclick: () => onClose?.() }, "Close");
  const el = h(
    "section",
    { class: "preview", "aria-label": `Preview of ${title}`, dataset: { entity: entityId } },
    h("div", { class: "preview-head" }, h("h2", {}, `Preview: ${title}`), close),
    stage,
    info,
  );
  let frames = 0;
  /** @type {PreviewAnswer["protocol"] | ""} */
  let protocol = "";
  let stopped = false;
  /** @type {AbortController | undefined} */
  let controller;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let retry;

  let lastFrames = 0;
  let size = "";
  const show = (/** @type {string} */ text) => setText(info, text);
  const ticker = setInterval(() => {
    if (!protocol) return;
    const fps = frames - lastFrames;
    lastFrames = frames;
    show(
      `${protocol.toUpperCase()} from ${entityId}: ${size || "…"}, ${fps} fps, ${frames} frames`,
    );
  }, 1000);
  async function run() {
    const aborter = new AbortController();
    controller = aborter;
    const signal = aborter.signal;
    try {
      const res = await fetch(`/preview/entities/${enc(entityId)}`, { cache: "no-store", signal });
      /** @type {PreviewAnswer} */
      const body = await res.json().catch(() => ({}));
      if (!res.ok) throw new Error(body.message || `HTTP ${res.status}`);
      protocol = body.protocol;
      el.dataset.protocol = protocol;
      show(`${protocol.toUpperCase()} from ${entityId}: connecting…`);
      await PLAYERS[protocol](body.url, stage, (w, hgt) => {
        frames++;
        el.dataset.frames = String(frames);
        size = `${w}×${hgt}`;
      }, signal);
    } catch (err) {
      if (stopped) return;
      aborter.abort();
      show(`No picture: ${/** @type {Error} */ (err).message}. Trying again in 3 s.`);
      retry = setTimeout(run, 3000);
    }
  }
  el.dataset.frames = "0";
  run();
  return {
    el,
    entityId,
    stop() {
      stopped = true;
      clearTimeout(retry);
      clearInterval(ticker);
      controller?.abort();
    },
  };
}
