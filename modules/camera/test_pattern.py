"""The test pattern: a live H.264 + AAC RTSP stream made on this machine with GStreamer.

Served by the camera module's RtspServer on its own path (`rtsp://host:port/<path>`).
Each picture is a moving ball with the capture clock, the
frame counter and the entity's name burnt in, and a pixel clock strip (`pixel_clock.py`)
so a receiver can compute glass-to-glass latency. The encoder runs only while someone
watches, once however many do: each reader gets a small pipeline of its own fed from it
(pattern_fanout.py), so a reader can only stall itself.

Run alone for a quick look: `python3 test_pattern.py --port 8554 --path test`, then
`ffplay rtsp://127.0.0.1:8554/test`.
"""
import argparse
import datetime
import signal
import sys
import threading
import time
from dataclasses import dataclass, field

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gst, GstRtspServer  # noqa: E402

import pixel_clock  # noqa: E402
import rtsp_server  # noqa: E402
from pattern_fanout import PatternFanout, reader_description  # noqa: E402


@dataclass
class PatternConfig:
    """What a test pattern looks like: size, frame rate, video bitrate, audio on or off."""

    width: int = 1280
    height: int = 720
    fps: int = 25
    bitrate_kbps: int = 2000
    audio: bool = True
    label: str = "test pattern"
    codec: str = "h264"  # or "mjpeg", standing in for an old camera no converter takes
    keyframe_interval_s: float = 0.5


@dataclass
class PatternStats:
    """Live figures of one test pattern (updated from GStreamer's streaming thread)."""

    frames: int = 0
    last_frame_at: float = 0.0
    started_at: float = 0.0
    clients: int = 0
    sessions: int = 0
    _times: list = field(default_factory=list)

    def fps(self) -> float:
        """Frames per second over the last two seconds."""
        now = time.time()
        recent = [t for t in self._times if now - t <= 2.0]
        return round(len(recent) / 2.0, 1) if recent else 0.0


def encoder_description(cfg: PatternConfig) -> str:
    """The gst-launch description of the encoder pipeline: the picture and the tone,
    encoded, into appsinks "video" and "audio" (see pattern_fanout.py)."""
    # HLS segments start at key frames and WebRTC viewers join at one: short intervals
    # make both quick (0.5 s: half-second segments, a viewer waits at most half a second).
    gop = max(1, round(cfg.fps * cfg.keyframe_interval_s))
    # zerolatency turns on x264's sliced threads, whose key frames ffmpeg reports as corrupt:
    # sliced-threads=0 keeps the low latency without them.
    encode = (
        f"x264enc name=encoder tune=zerolatency speed-preset=ultrafast bitrate={cfg.bitrate_kbps} "
        f"key-int-max={gop} bframes=0 option-string=sliced-threads=0 "
        "! video/x-h264,profile=constrained-baseline ! h264parse config-interval=-1 "
        "! video/x-h264,stream-format=byte-stream,alignment=au"
    ) if cfg.codec == "h264" else "jpegenc name=encoder quality=80"
    video = (
        f"videotestsrc is-live=true pattern=ball motion=sweep background-color=0xff203040 "
        f"! video/x-raw,format=BGRx,width={cfg.width},height={cfg.height},"
        f"framerate={cfg.fps}/1 "
        f"! cairooverlay name=overlay ! videoconvert ! video/x-raw,format=I420 ! {encode} "
        "! appsink name=video sync=false"
    )
    if not cfg.audio:
        return video
    audio = (
        "audiotestsrc is-live=true wave=sine freq=440 volume=0.1 "
        "! audio/x-raw,rate=48000,channels=2 ! audioconvert ! voaacenc bitrate=96000 "
        "! aacparse ! appsink name=audio sync=false"
    )
    return f"{video} {audio}"


def reader_payloaders(cfg: PatternConfig) -> tuple:
    """(video, audio) tails of a reader's media after its appsrcs; payloaders pay0, pay1."""
    video = ("h264parse ! rtph264pay name=pay0 pt=96 config-interval=-1" if cfg.codec == "h264"
             else "rtpjpegpay name=pay0 pt=26")
    audio = "aacparse ! rtpmp4gpay name=pay1 pt=97" if cfg.audio else ""
    return video, audio


class Overlay:
    """Draws the clock, counter, name and pixel clock on each frame (cairo)."""

    def __init__(self, cfg: PatternConfig, stats: PatternStats):
        self.cfg = cfg
        self.stats = stats

    def draw(self, _overlay, ctx, _timestamp, _duration):
        now = time.time()
        ms = int(now * 1000)
        stats = self.stats
        stats.frames += 1
        stats.last_frame_at = now
        stats._times.append(now)
        if len(stats._times) > 4 * max(self.cfg.fps, 1):
            del stats._times[: len(stats._times) // 2]
        w, h = self.cfg.width, self.cfg.height
        strip = pixel_clock.strip_height(h)
        cell = w / pixel_clock.CELLS
        for i, white in enumerate(pixel_clock.cells(ms)):
            ctx.set_source_rgb(*((1, 1, 1) if white else (0, 0, 0)))
            ctx.rectangle(i * cell, 0, cell + 0.5, strip)
            ctx.fill()
        clock = datetime.datetime.fromtimestamp(now).strftime("%H:%M:%S.%f")[:-3]
        size = max(12, h // 12)
        ctx.select_font_face("monospace")
        lines = [
            (clock, size),
            (f"frame {stats.frames}", size * 0.7),
            (f"{self.cfg.label}  {w}x{h}@{self.cfg.fps}", size * 0.45),
        ]
        y = strip + size * 1.4
        for text, font in lines:
            ctx.set_font_size(font)
            ctx.set_source_rgba(0, 0, 0, 0.6)
            ctx.move_to(size * 0.5 + 2, y + 2)
            ctx.show_text(text)
            ctx.set_source_rgb(1, 1, 1)
            ctx.move_to(size * 0.5, y)
            ctx.show_text(text)
            y += font * 1.3


def pattern_factory(cfg: PatternConfig, protected: bool = False, counter=None):
    """A gst-rtsp-server media factory for a test pattern, and its live figures: one
    encoder, a small pipeline per reader (pattern_fanout.py). `counter` (a
    camera_sources.FrameCounter), when given, counts the encoded frames and bytes, once
    whatever the number of readers."""
    factory = GstRtspServer.RTSPMediaFactory()
    stats = PatternStats(started_at=time.time())
    overlay = Overlay(cfg, stats)

    def on_first(pipeline):
        pipeline.get_by_name("overlay").connect("draw", overlay.draw)
        if counter is not None:
            for name, probe in (("video", counter.probe), ("audio", counter.audio_probe)):
                sink = pipeline.get_by_name(name)
                if sink is not None:
                    sink.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, probe)

    fanout = PatternFanout(encoder_description(cfg), on_first)
    factory.set_launch(reader_description(*reader_payloaders(cfg)))
    factory.set_shared(False)
    if protected:
        rtsp_server.allow_viewers(factory)

    def configure(_factory, media):
        stats.sessions += 1
        fanout.add(media)

    factory.connect("media-configure", configure)
    return factory, stats


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bind", default="127.0.0.1")
    parser.add_argument("--host", default="127.0.0.1", help="host written in the URL")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--path", default="test")
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--bitrate", type=int, default=2000, help="kbit/s")
    parser.add_argument("--no-audio", action="store_true")
    parser.add_argument("--codec", choices=["h264", "mjpeg"], default="h264")
    parser.add_argument("--user", default="")
    parser.add_argument("--password", default="")
    args = parser.parse_args()
    width, height = (int(n) for n in args.size.split("x"))
    server = rtsp_server.RtspServer(args.bind, args.port, args.user, args.password)
    cfg = PatternConfig(width, height, args.fps, args.bitrate, not args.no_audio,
                        codec=args.codec)
    factory, _stats = pattern_factory(cfg, server.protected)
    server.add(args.path, factory)
    print(f"rtsp://{args.host}:{server.port}/{args.path}", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    # End with standard input too, so a parent that dies takes us with it.
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    done.wait()
    server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
