// The pixel clock reader: the capture time the test pattern writes into the top strip of
// each frame (modules/camera/pixel_clock.py has the layout): 42 cells, white and black
// reference cells, 32 bits of wall-clock ms modulo 2^32, an 8-bit check.

export const CELLS = 42;
const TIME_BITS = 32;
const CHECK_XOR = 0xa5;
const WRAP = 4294967296;
const SAMPLE = 4; // pixels per cell in the reading canvas

const canvas = document.createElement("canvas");
canvas.width = CELLS * SAMPLE;
canvas.height = 1;
const ctx = canvas.getContext("2d", { willReadFrequently: true });

function checkByte(ms32) {
  let total = 0;
  for (const shift of [24, 16, 8, 0]) total += Math.floor(ms32 / 2 ** shift) % 256;
  return (total % 256) ^ CHECK_XOR;
}

/** The 32-bit capture time in a frame (a video, canvas or ImageBitmap), or -1. */
export function readPixelClock(source, width, height) {
  if (!width || !height) return -1;
  const strip = Math.max(8, Math.floor(height / 24));
  try {
    ctx.drawImage(source, 0, strip * 0.3, width, strip * 0.4, 0, 0, canvas.width, 1);
  } catch {
    return -1; // not decodable yet, or a cross-origin frame
  }
  let data;
  try {
    data = ctx.getImageData(0, 0, canvas.width, 1).data;
  } catch {
    return -1; // a tainted canvas: the media server sent no CORS header
  }
  const levels = [];
  for (let i = 0; i < CELLS; i++) {
    let sum = 0;
    for (const x of [i * SAMPLE + 1, i * SAMPLE + 2]) {
      sum += (data[x * 4] + data[x * 4 + 1] + data[x * 4 + 2]) / 3;
    }
    levels.push(sum / 2);
  }
  const white = levels[0];
  const black = levels[1];
  if (white - black < 60) return -1;
  const mid = (white + black) / 2;
  let ms32 = 0;
  for (let i = 0; i < TIME_BITS; i++) ms32 = ms32 * 2 + (levels[2 + i] > mid ? 1 : 0);
  let check = 0;
  for (let i = 0; i < 8; i++) check = check * 2 + (levels[2 + TIME_BITS + i] > mid ? 1 : 0);
  return check === checkByte(ms32) ? ms32 : -1;
}

/** Milliseconds from capture (ms32) to `nowMs` (wall clock); NaN when implausible. */
export function latencyMs(ms32, nowMs) {
  let d = (nowMs % WRAP) - ms32;
  if (d < -WRAP / 2) d += WRAP;
  if (d > WRAP / 2) d -= WRAP;
  return Math.abs(d) < 600_000 ? d : NaN;
}

/** True when capture time `a` is later than `b` (both modulo 2^32). */
export function isLater(a, b) {
  if (b < 0) return a >= 0;
  const d = (a - b + WRAP) % WRAP;
  return d > 0 && d < WRAP / 2;
}
