/**
 * What a screen says it plays (`EntityStatus.formats`): its browser's capabilities kept to
 * its `accept` list, and `accept` checked with errors that name the bad word.
 */
import assert from "node:assert/strict";
import {
  browserFormats,
  browserName,
  parseAccept,
  probedInputs,
} from "../../modules/web-screen/screen_formats.ts";

const CHROMIUM = {
  hls_native: true,
  mse_h264: true,
  mse_h265: false,
  video_h264: true,
  video_h265: false,
  webrtc_video: ["vp8", "vp9", "h264", "av1"],
  mjpeg: true,
};

const names = (fs: { protocol: string; codec: string }[]) =>
  fs.map((f) => `${f.protocol}/${f.codec}`);

Deno.test("screen formats: a browser's capabilities, kept to accept", () => {
  assert.deepEqual(names(browserFormats(CHROMIUM)), ["webrtc/h264", "hls/h264", "mjpeg/mjpeg"]);
  // Firefox: no native HLS, no H.264 in WebRTC (no OpenH264).
  assert.deepEqual(
    names(browserFormats({ ...CHROMIUM, hls_native: false, webrtc_video: ["vp8"] })),
    ["mjpeg/mjpeg"],
  );
  const only = probedInputs(["mjpeg"], CHROMIUM, "Chrome 131");
  assert.deepEqual(names(only.inputs), ["mjpeg/mjpeg"]);
  assert.equal(only.inputsProbed, true);
  assert.match(only.method, /^Chrome 131: canPlayType, .*; accept: mjpeg$/);
  assert.deepEqual(names(probedInputs(["h264"], CHROMIUM, "").inputs), [
    "webrtc/h264",
    "hls/h264",
  ]);
  const before = probedInputs(["webrtc"], undefined, "");
  assert.deepEqual(names(before.inputs), ["webrtc/h264"]);
  assert.match(before.method, /no page has reported yet/);
  assert.equal(
    browserName("Mozilla/5.0 ... HeadlessChrome/131.0.6778.33 Safari/537.36"),
    "HeadlessChrome 131",
  );
});

Deno.test("screen formats: accept is checked", () => {
  assert.deepEqual(parseAccept(undefined), []);
  assert.deepEqual(parseAccept(["MJPEG", "mjpeg", "hls"]), ["mjpeg", "hls"]);
  assert.throws(() => parseAccept("mjpeg"), /configuration\.accept: expected a list of words/);
  assert.throws(() => parseAccept(["mpeg2"]), /unknown "mpeg2" \(known: webrtc, hls, mjpeg, h264/);
});
