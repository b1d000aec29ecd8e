/**
 * The media modules' Python unit tests (pixel clock, configurations, -progress parsing,
 * playlist trimming, MJPEG parts, WHEP offers, H.264 parameter sets), each module's
 * `*_units_test.py` run with Debian's Python and the SDK on PYTHONPATH.
 */
import assert from "node:assert/strict";
import { ROOT } from "../helpers/test_orchestrator.ts";
import { PYTHON } from "./media_helpers.ts";

for (
  const [dir, module] of [
    ["camera", "camera_units_test"],
    ["ffmpeg-converter", "converter_units_test"],
    ["webrtc-bridge", "bridge_units_test"],
  ]
) {
  Deno.test(`python units: ${dir}`, async () => {
    const out = await new Deno.Command(PYTHON, {
      args: ["-B", "-m", "unittest", "-v", module],
      cwd: `${ROOT}modules/${dir}`,
      env: { PYTHONPATH: `${ROOT}packages/sdk-python`, PYTHONDONTWRITEBYTECODE: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, text);
    assert.match(text, /\nOK\n?$/);
  });
}
