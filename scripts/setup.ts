/**
 * Installs the system packages the example modules and tests need, once: Debian's Python
 * with gRPC and protobuf (Python modules: the cast-screen example, the Python SDK and its
 * tests; the SDK ships its generated stubs, so protoc is not needed to run anything), and
 * the real-media modules' ffmpeg, GStreamer and aiortc (MEDIA_PACKAGES); with
 * `--tests` also Chromium (the dashboard tests drive it), openssl (the TLS tests make
 * their certificates with it), systemd (for systemd-analyze), prometheus (for promtool), curl and jq (the README's
 * commands are run as written). Run by
 * `deno task start` and `deno task test`; does nothing when everything is present.
 * Without root it prints the apt-get command instead of running it.
 */

/** Debian packages and the file each one provides, to check for it. */
export const PACKAGES: Record<string, string> = {
  "python3-minimal": "/usr/bin/python3",
  // grpc.aio: the Python SDK serves and reports with asyncio.
  "python3-grpcio": "/usr/lib/python3/dist-packages/grpc/aio/__init__.py",
  // struct_pb2: the well-known types the generated stubs import.
  "python3-protobuf": "/usr/lib/python3/dist-packages/google/protobuf/struct_pb2.py",
};

/** Where Debian puts this machine's architecture-specific libraries (multiarch). */
const TRIPLET = `${Deno.build.arch === "aarch64" ? "aarch64" : "x86_64"}-linux-gnu`;
const LIB = `/usr/lib/${TRIPLET}`;
const GST = `${LIB}/gstreamer-1.0`;
const PY = "/usr/lib/python3/dist-packages";

/**
 * Debian packages of the real-media example modules (camera, ffmpeg-converter,
 * webrtc-bridge), each with a file it provides. `--no-install-recommends` installs no
 * Recommends, so every GStreamer plugin set used is listed, with a plugin it holds.
 */
export const MEDIA_PACKAGES: Record<string, string> = {
  // ffmpeg and ffprobe: the converter's children, the camera's probe.
  ffmpeg: "/usr/bin/ffprobe",
  // GStreamer from Python, and the RTSP server library with its introspection data.
  "python3-gst-1.0": `${PY}/gi/overrides/Gst.py`,
  "gir1.2-gst-rtsp-server-1.0": `${LIB}/girepository-1.0/GstRtspServer-1.0.typelib`,
  // videotestsrc, audiotestsrc, videoconvert, uridecodebin (the relay).
  "gstreamer1.0-plugins-base": `${GST}/libgstvideotestsrc.so`,
  // cairooverlay (clock, counter, pixel clock), RTP payloaders, rtspsrc, jpegenc.
  "gstreamer1.0-plugins-good": `${GST}/libgstcairo.so`,
  // h264parse, voaacenc (AAC).
  "gstreamer1.0-plugins-bad": `${GST}/libgstvoaacenc.so`,
  // x264enc.
  "gstreamer1.0-plugins-ugly": `${GST}/libgstx264.so`,
  // cairo contexts in GStreamer callbacks (the overlay draws with them).
  "python3-gi-cairo": `${PY}/gi/_gi_cairo.cpython-311-${TRIPLET}.so`, // Debian 12: Python 3.11
  // The converter's and the bridge's HTTP servers (HLS, MJPEG, WHEP).
  "python3-aiohttp": `${PY}/aiohttp/__init__.py`,
  // WebRTC (brings PyAV, aioice, the Opus and VPX codecs).
  "python3-aiortc": `${PY}/aiortc/__init__.py`,
};

/** Debian packages only the tests need. */
export const TEST_PACKAGES: Record<string, string> = {
  chromium: "/usr/bin/chromium",
  openssl: "/usr/bin/openssl",
  // systemd-analyze verify and security judge the shipped unit (tests/deploy).
  systemd: "/usr/bin/systemd-analyze",
  // promtool check metrics judges /metrics (tests/metrics).
  prometheus: "/usr/bin/promtool",
  // The README's own commands run as written (tests/media/readme_commands_test.ts).
  curl: "/usr/bin/curl",
  jq: "/usr/bin/jq",
};

/** True when `path` exists. */
function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Every package setup installs, with its file (the tests' packages too when `tests`). */
export function wantedPackages(tests = false): Record<string, string> {
  return { ...PACKAGES, ...MEDIA_PACKAGES, ...(tests ? TEST_PACKAGES : {}) };
}

/** The packages whose files are missing (with the tests' packages when `tests`). */
export function missingPackages(tests = false): string[] {
  return Object.entries(wantedPackages(tests)).filter(([, file]) => !exists(file))
    .map(([pkg]) => pkg);
}

async function run(cmd: string, args: string[]): Promise<boolean> {
  const out = await new Deno.Command(cmd, {
    args,
    env: { DEBIAN_FRONTEND: "noninteractive" },
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  return out.success;
}

async function main(): Promise<number> {
  const missing = missingPackages(Deno.args.includes("--tests"));
  if (missing.length === 0) return 0;
  const command = `apt-get install -y --no-install-recommends ${missing.join(" ")}`;
  if (Deno.uid() !== 0 || !exists("/usr/bin/apt-get")) {
    console.error(`setup: missing ${missing.join(", ")}; install them with: sudo ${command}`);
    console.error(
      "setup: until then the Python and media example modules stay FAILED" +
        (Deno.args.includes("--tests") ? " and the dashboard and TLS tests fail" : ""),
    );
    return 0;
  }
  console.error(`setup: installing ${missing.join(", ")}`);
  const ok = await run("apt-get", ["update", "-qq"]) &&
    await run("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...missing]);
  if (!ok) {
    console.error(`setup: apt-get failed; install by hand: ${command}`);
    return 1;
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main());
