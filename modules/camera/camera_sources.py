"""The camera module's entities at run time: a test pattern served by the module's RTSP
server, and an existing RTSP camera, probed (its real codecs become its formats), then
relayed by the same server. A camera that cannot be probed is FAILED with the reason and
probed again with backoff (2 s doubling to 60 s), never a crash."""
import asyncio
import datetime
import time

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

import callassistant as ca  # noqa: E402
import rtsp_probe  # noqa: E402
import rtsp_relay  # noqa: E402
import rtsp_server  # noqa: E402
import test_pattern  # noqa: E402
from camera_config import RESOLUTIONS  # noqa: E402

# Readers connected and no frame for FROZEN_S: the stream froze (gst-rtsp-server's shared
# media can, for every reader at once) and is served afresh, at most once every AFRESH_EVERY_S
# (a real camera gone silent is then asked again that often).
FROZEN_S = 3.0
AFRESH_EVERY_S = 10.0

# What converters can take from a camera; anything else has no path (FAILED_PRECONDITION).
CARRIED = {"video": ["h264", "h265"], "audio": ["aac", "pcmu", "pcma", "opus"]}


class FrameCounter:
    """Encoded frames and bytes passing the payloaders' pads, per media type ("video",
    "audio"), and when the last video frame passed (from GStreamer's threads)."""

    def __init__(self):
        self.frames = 0
        self.last_frame_at = 0.0
        self.counts = {"video": [0, 0], "audio": [0, 0]}  # [frames, bytes]

    def totals(self, media: str) -> tuple:
        """(frames, bytes) of one media type so far."""
        frames, nbytes = self.counts.get(media, (0, 0))
        return frames, nbytes

    def probe(self, _pad, info):
        """A pad probe counting video frames."""
        return self._count("video", info)

    def audio_probe(self, _pad, info):
        """A pad probe counting audio frames."""
        return self._count("audio", info)

    def _count(self, media: str, info):
        buf = info.get_buffer()
        count = self.counts[media]
        count[0] += 1
        count[1] += buf.get_size() if buf is not None else 0
        if media == "video":
            self.frames += 1
            self.last_frame_at = time.time()
        return Gst.PadProbeReturn.OK


class CameraEntity:
    """What both kinds share: id, name, settings, state, formats and the served URL."""

    entity_type = ""

    def __init__(self, entity_id: str, name: str, config: dict, server, address, on_change):
        self.id = entity_id
        self.name = name
        self.config = config
        self.server = server
        self.address = address
        self.on_change = on_change  # called with (entity, event type, message, severity)
        self.state = ca.EntityState.CREATING
        self.message = ""
        self.formats = []  # [{media_type, protocol, codec}]
        self.formats_method = ""  # how the formats were found out (ProbedFormats.method)
        self.formats_at = 0.0
        self.counter = FrameCounter()
        self._readers_since = 0.0  # when readers were first seen connected (0: none now)
        self._afresh_at = 0.0  # the last serve_afresh
        self.created_at = time.time()
        self.updated_at = self.created_at

    @property
    def url(self) -> str:
        """Where receivers fetch the stream."""
        return f"rtsp://{self.address.url_host()}:{self.server.port}/{self.id}"

    def set_state(self, state, message: str, event: str = "", severity: str = "info") -> None:
        """Changes state and message, and tells the module (an event when `event`)."""
        changed = (state, message) != (self.state, self.message)
        self.state, self.message = state, message
        self.updated_at = time.time()
        if changed:
            self.on_change(self, event, message, severity)

    def metrics(self) -> dict:
        """The live figures for EntityStatus.metrics."""
        return {}

    def picture(self) -> tuple:
        """(width, height) of the video sent, (0, 0) when unknown."""
        return 0, 0

    def probed_formats(self):
        """The formats really sent, as EntityStatus.formats (ProbedFormats), or None
        before they are known."""
        if not self.formats_at:
            return None
        return {"outputs": [ca.fmt(f["media_type"], f["protocol"], f["codec"])
                            for f in self.formats],
                "outputs_probed": True, "method": self.formats_method,
                "probed_at": datetime.datetime.fromtimestamp(self.formats_at,
                                                             datetime.timezone.utc)}

    async def start(self) -> None:
        """Starts serving (or probing)."""

    async def close(self) -> None:
        """Stops serving and frees what the entity holds."""

    def serve_afresh(self) -> bool:
        """Closes the connections of every reader of the entity's path and serves a new
        media (the next reader prepares it): what a frozen stream needs. False when it
        serves nothing yet."""
        if not self._serve_again():
            return False
        self._afresh_at = time.time()
        self._readers_since = 0.0
        return True

    def _serve_again(self) -> bool:
        return False

    def frozen(self, now: float) -> bool:
        """True when readers are connected and no frame passed for FROZEN_S since the
        later of their arrival and the last fresh start (and that was AFRESH_EVERY_S ago)."""
        if self.server.readers(self.id) == 0:
            self._readers_since = 0.0
            return False
        self._readers_since = self._readers_since or now
        quiet_since = max(self.counter.last_frame_at, self._readers_since, self._afresh_at)
        return now - quiet_since >= FROZEN_S and now - self._afresh_at >= AFRESH_EVERY_S


class TestPatternEntity(CameraEntity):
    """A test pattern: H.264 + AAC made here, clock and pixel clock burnt in."""

    entity_type = "test_pattern"

    def __init__(self, *args):
        super().__init__(*args)
        self.own_server = None  # a protected pattern gets a server of its own
        self.stats = None
        self.pattern = None  # its test_pattern.PatternConfig once started

    @property
    def protected(self) -> bool:
        """True when clients must give the configured user and password."""
        return bool(self.config["user"])

    async def start(self) -> None:
        c = self.config
        width, height = RESOLUTIONS[c["resolution"]]
        cfg = test_pattern.PatternConfig(width, height, c["fps"], c["bitrate_kbps"], c["audio"],
                                         label=self.name or self.id, codec=c["video_codec"],
                                         keyframe_interval_s=c["keyframe_interval_s"])
        if self.protected:
            self.own_server = rtsp_server.RtspServer(self.address.bind, 0, c["user"],
                                                     c["password"])
            self.server = self.own_server
        self.pattern = cfg
        self._serve()
        self.formats = [{"media_type": "video", "protocol": "rtsp", "codec": c["video_codec"]}]
        if c["audio"]:
            self.formats.append({"media_type": "audio", "protocol": "rtsp", "codec": "aac"})
        encoders = "x264enc" if c["video_codec"] == "h264" else "jpegenc"
        self.formats_method = (f"the test pattern's own GStreamer encoders ({encoders}"
                               f"{', voaacenc' if c['audio'] else ''})")
        self.formats_at = time.time()
        how = " (asks for a user and password)" if self.protected else ""
        self.set_state(ca.EntityState.READY, f"serving {c['resolution']}@{c['fps']} "
                       f"{c['video_codec'].upper()}{' + AAC' if c['audio'] else ''} on "
                       f"{self.url}{how}")

    def _serve(self) -> None:
        factory, self.stats = test_pattern.pattern_factory(self.pattern, self.protected,
                                                           self.counter)
        self.server.add(self.id, factory)

    def _serve_again(self) -> bool:
        if not self.stats:
            return False
        self.server.remove(self.id)
        self._serve()
        return True

    async def close(self) -> None:
        self.server.remove(self.id)
        if self.own_server:
            self.own_server.close()
            self.own_server = None

    def picture(self) -> tuple:
        return RESOLUTIONS[self.config["resolution"]]

    def metrics(self) -> dict:
        s = self.stats
        width, height = RESOLUTIONS[self.config["resolution"]]
        out = {"width": width, "height": height, "bitrate_kbps": self.config["bitrate_kbps"]}
        if s:
            out.update(frames=s.frames, fps=s.fps(), sessions=s.sessions)
            if s.last_frame_at:
                out["last_frame_unix_ms"] = round(s.last_frame_at * 1000)
                out["last_frame_age_ms"] = round((time.time() - s.last_frame_at) * 1000)
        return out


class RtspCameraEntity(CameraEntity):
    """An existing camera: probed, then relayed on the module's RTSP server."""

    entity_type = "rtsp_camera"

    def __init__(self, *args):
        super().__init__(*args)
        self.result = None  # the last successful rtsp_probe.ProbeResult
        self.failures = 0
        self.next_probe_at = 0.0
        self._task = None

    async def start(self) -> None:
        self.set_state(ca.EntityState.CREATING, f"probing {rtsp_probe.redact(self.config['url'])}")
        self._task = asyncio.get_running_loop().create_task(self._probe_until_reachable())

    async def _probe_until_reachable(self) -> None:
        backoff = 2.0
        c = self.config
        while True:
            try:
                self.result = await rtsp_probe.probe(c["url"], c["user"], c["password"],
                                                     c["timeout_s"])
            except rtsp_probe.ProbeError as err:
                self.failures += 1
                self.next_probe_at = time.time() + backoff
                self.set_state(ca.EntityState.FAILED,
                               f"{err.kind}: {err}; probing again in {backoff:g} s",
                               "camera.unreachable", "warning")
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 60.0)
                continue
            break
        self.failures = 0
        self.formats = self.result.formats()
        self.formats_method = f"ffprobe of {rtsp_probe.redact(c['url'])}"
        self.formats_at = time.time()
        try:
            self._serve()
        except Exception as err:  # noqa: BLE001 - a GStreamer failure is the entity's, not ours
            self.set_state(ca.EntityState.FAILED, f"cannot relay the camera: {err}",
                           "camera.unreachable", "error")
            return
        uncarried = [f"{f['media_type']}/{f['codec']}" for f in self.formats
                     if f["codec"] not in CARRIED[f["media_type"]]]
        what = ", ".join(f"{s.media_type} {s.codec}" + (f" {s.width}x{s.height}" if s.width
                                                          else "")
                         for s in self.result.streams)
        note = (f"; no converter carries {', '.join(uncarried)} (carried: video "
                f"{'/'.join(CARRIED['video'])}, audio {'/'.join(CARRIED['audio'])})"
                if uncarried else "")
        self.set_state(ca.EntityState.READY, f"sends {what}; relayed on {self.url}{note}",
                       "camera.probed")

    def _serve(self) -> None:
        c = self.config
        uri = rtsp_probe.with_credentials(c["url"], c["user"], c["password"])
        factory = rtsp_relay.relay_factory(uri)
        counter = self.counter

        def configure(_factory, media):
            rtsp_relay.configure_relay(media.get_element(), counter.probe, counter.audio_probe)

        factory.connect("media-configure", configure)
        self.server.add(self.id, factory)

    def _serve_again(self) -> bool:
        if self.state != ca.EntityState.READY:
            return False
        self.server.remove(self.id)
        self._serve()
        return True

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
        self.server.remove(self.id)

    def picture(self) -> tuple:
        video = next((s for s in self.result.streams if s.media_type == "video"),
                     None) if self.result else None
        return (video.width or 0, video.height or 0) if video else (0, 0)

    def metrics(self) -> dict:
        out = {"failures": self.failures, "frames": self.counter.frames}
        if self.state == ca.EntityState.FAILED and self.next_probe_at:
            out["next_probe_s"] = round(max(0.0, self.next_probe_at - time.time()), 1)
        if self.result:
            out["probe_ms"] = self.result.elapsed_ms
            video = next((s for s in self.result.streams if s.media_type == "video"), None)
            if video:
                out.update(width=video.width, height=video.height, fps=video.fps)
        if self.counter.last_frame_at:
            out["last_frame_unix_ms"] = round(self.counter.last_frame_at * 1000)
            out["last_frame_age_ms"] = round((time.time() - self.counter.last_frame_at) * 1000)
        return out
