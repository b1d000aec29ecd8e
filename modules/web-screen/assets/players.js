// The three players of a screen page, one per protocol. Each fills the stage, calls
// hooks.frame(drawable, width, height, displayedAtMs) for every frame it shows and
// hooks.error(message) when it cannot go on, and counts what the browser decoded.

/** A <video> that fills the stage, muted (browsers autoplay only muted video). */
function makeVideo(stage) {
  const video = document.createElement("video");
  video.muted = true;
  video.autoplay = true;
  video.playsInline = true;
  video.className = "media";
  stage.replaceChildren(video);
  return video;
}

/** Calls `onFrame(metadata)` for every frame the video presents, until `stop()`. */
function everyVideoFrame(video, onFrame) {
  let stopped = false;
  const step = (_now, metadata) => {
    if (stopped) return;
    onFrame(metadata);
    video.requestVideoFrameCallback(step);
  };
  video.requestVideoFrameCallback(step);
  return () => {
    stopped = true;
  };
}

/** HLS through the browser's own player (Chromium, Safari, most TV browsers). */
export class HlsPlayer {
  constructor(url, stage, hooks) {
    this.url = url;
    this.stage = stage;
    this.hooks = hooks;
    this.protocol = "hls";
  }

  static supported() {
    return document.createElement("video").canPlayType("application/vnd.apple.mpegurl") !== "";
  }

  start(attempt) {
    if (!HlsPlayer.supported()) {
      this.hooks.error("this browser cannot play HLS by itself");
      return;
    }
    const video = makeVideo(this.stage);
    this.video = video;
    // The pixel clock reader draws the video on a canvas: fetch it with CORS.
    video.crossOrigin = "anonymous";
    video.addEventListener("error", () => {
      const e = video.error;
      this.hooks.error(`HLS: ${e?.message || `media error ${e?.code ?? "?"}`}`);
    });
    this.stopFrames = everyVideoFrame(video, (m) => {
      this.hooks.frame(video, m.width, m.height, performance.timeOrigin + m.expectedDisplayTime);
    });
    // A fresh URL each attempt, so no cache hands back a stale playlist.
    const sep = this.url.includes("?") ? "&" : "?";
    video.src = `${this.url}${sep}attempt=${attempt}`;
    video.play().catch(() => {});
  }

  counters() {
    const v = this.video;
    if (!v) return { decoded: 0, dropped: 0 };
    const q = v.getVideoPlaybackQuality();
    return {
      decoded: q.totalVideoFrames,
      dropped: q.droppedVideoFrames,
      width: v.videoWidth,
      height: v.videoHeight,
      codec: "h264",
    };
  }

  close() {
    this.stopFrames?.();
    if (this.video) {
      this.video.removeAttribute("src");
      this.video.load();
    }
  }
}

/** Resolves once ICE gathering is complete, or after `ms`. */
function gathered(pc, ms) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState === "complete") resolve();
    };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, ms);
  });
}

/** WebRTC by WHEP: POST an offer, play the answer, DELETE the session at the end. */
export class WhepPlayer {
  constructor(url, stage, hooks) {
    this.url = url;
    this.stage = stage;
    this.hooks = hooks;
    this.protocol = "webrtc";
    this.last = { decoded: 0, dropped: 0 };
  }

  async start() {
    const video = makeVideo(this.stage);
    this.video = video;
    const pc = new RTCPeerConnection({ iceServers: [] });
    this.pc = pc;
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.addTransceiver("audio", { direction: "recvonly" });
    const stream = new MediaStream();
    pc.addEventListener("track", (e) => {
      stream.addTrack(e.track);
      video.srcObject = stream;
      video.play().catch(() => {});
    });
    pc.addEventListener("connectionstatechange", () => {
      if (pc.connectionState === "failed") this.hooks.error("WebRTC: the connection failed");
    });
    this.stopFrames = everyVideoFrame(video, (m) => {
      this.hooks.frame(video, m.width, m.height, performance.timeOrigin + m.expectedDisplayTime);
    });
    try {
      await pc.setLocalDescription(await pc.createOffer());
      await gathered(pc, 2000);
      const res = await fetch(this.url, {
        method: "POST",
        headers: { "Content-Type": "application/sdp" },
        body: pc.localDescription.sdp,
      });
      const body = await res.text();
      if (res.status !== 201) throw new Error(`WHEP ${res.status}: ${body.trim()}`);
      const location = res.headers.get("Location");
      if (location) this.resource = new URL(location, this.url).href;
      if (this.closed) return this.close();
      await pc.setRemoteDescription({ type: "answer", sdp: body });
    } catch (err) {
      this.hooks.error(err.message || String(err));
    }
  }

  async poll() {
    if (!this.pc) return;
    const stats = await this.pc.getStats();
    for (const s of stats.values()) {
      if (s.type !== "inbound-rtp" || s.kind !== "video") continue;
      const codec = s.codecId ? stats.get(s.codecId) : undefined;
      const now = performance.now();
      const bytes = s.bytesReceived ?? 0;
      const kbps = this.lastBytes !== undefined && now > this.lastAt
        ? ((bytes - this.lastBytes) * 8) / (now - this.lastAt)
        : 0;
      this.lastBytes = bytes;
      this.lastAt = now;
      this.last = {
        decoded: s.framesDecoded ?? 0,
        dropped: s.framesDropped ?? 0,
        width: s.frameWidth ?? 0,
        height: s.frameHeight ?? 0,
        codec: (codec?.mimeType ?? "").replace(/^video\//i, "").toLowerCase(),
        bitrateKbps: Math.round(kbps),
        bytes,
      };
    }
  }

  counters() {
    return this.last;
  }

  close() {
    this.closed = true;
    this.stopFrames?.();
    if (this.resource) {
      fetch(this.resource, { method: "DELETE", keepalive: true }).catch(() => {});
      this.resource = undefined;
    }
    this.pc?.close();
    if (this.video) this.video.srcObject = null;
  }
}

const CRLF2 = [13, 10, 13, 10];

function indexOf(bytes, pattern, from) {
  outer: for (let i = from; i <= bytes.length - pattern.length; i++) {
    for (let j = 0; j < pattern.length; j++) if (bytes[i + j] !== pattern[j]) continue outer;
    return i;
  }
  return -1;
}

/** MJPEG: a multipart stream read with fetch, each JPEG decoded and drawn on a canvas. */
export class MjpegPlayer {
  constructor(url, stage, hooks) {
    this.url = url;
    this.stage = stage;
    this.hooks = hooks;
    this.protocol = "mjpeg";
    this.decoded = 0;
    this.bytes = 0;
  }

  async start() {
    const canvas = document.createElement("canvas");
    canvas.className = "media";
    this.stage.replaceChildren(canvas);
    this.canvas = canvas;
    const ctx = canvas.getContext("2d");
    this.abort = new AbortController();
    try {
      const res = await fetch(this.url, { signal: this.abort.signal, cache: "no-store" });
      if (!res.ok) throw new Error(`MJPEG ${res.status}: ${(await res.text()).trim()}`);
      const reader = res.body.getReader();
      let buffer = new Uint8Array(0);
      while (true) {
        const { value, done } = await reader.read();
        if (done) throw new Error("MJPEG: the stream ended");
        this.bytes += value.length;
        const joined = new Uint8Array(buffer.length + value.length);
        joined.set(buffer);
        joined.set(value, buffer.length);
        buffer = joined;
        let jpeg;
        while ((jpeg = this.nextPart(buffer))) {
          buffer = buffer.subarray(jpeg.end);
          const bitmap = await createImageBitmap(new Blob([jpeg.data], { type: "image/jpeg" }));
          if (canvas.width !== bitmap.width) canvas.width = bitmap.width;
          if (canvas.height !== bitmap.height) canvas.height = bitmap.height;
          ctx.drawImage(bitmap, 0, 0);
          bitmap.close();
          this.decoded++;
          this.hooks.frame(canvas, canvas.width, canvas.height, Date.now());
        }
      }
    } catch (err) {
      if (!this.abort.signal.aborted) this.hooks.error(err.message || String(err));
    }
  }

  /** The next complete JPEG part in `bytes` ({data, end}) or undefined. */
  nextPart(bytes) {
    const headerEnd = indexOf(bytes, CRLF2, 0);
    if (headerEnd < 0) return undefined;
    const header = new TextDecoder().decode(bytes.subarray(0, headerEnd));
    const match = /content-length:\s*(\d+)/i.exec(header);
    const start = headerEnd + 4;
    if (match) {
      const end = start + Number(match[1]);
      return end <= bytes.length ? { data: bytes.slice(start, end), end } : undefined;
    }
    // No length: the JPEG ends at its EOI marker (FF D9).
    const eoi = indexOf(bytes, [0xff, 0xd9], start);
    return eoi < 0 ? undefined : { data: bytes.slice(start, eoi + 2), end: eoi + 2 };
  }

  counters() {
    return {
      decoded: this.decoded,
      dropped: 0,
      width: this.canvas?.width ?? 0,
      height: this.canvas?.height ?? 0,
      codec: "mjpeg",
      bytes: this.bytes,
    };
  }

  close() {
    this.abort?.abort();
  }
}
