"""An RTSP input shared by every WebRTC viewer of one bridge entity.

A thread reads the camera with PyAV (ffmpeg's RTSP client, over TCP) and hands each
H.264 access unit, as it is (no decoding), to every subscribed video track; AAC (or any
audio ffmpeg decodes) is decoded and cut into 20 ms 48 kHz frames for aiortc's Opus
encoder, the only audio transcode on the way. A lost camera is reopened with backoff
(0.5 s doubling to 5 s) for as long as the source runs.
"""
import asyncio
import collections
import fractions
import threading
import time
from typing import Optional

import av

import h264_bitstream

VIDEO_TIME_BASE = fractions.Fraction(1, 90000)


class RtspSource:
    """Reads `url` while started; subscribers get ("video", Packet) and ("audio",
    AudioFrame) items on their own asyncio loop."""

    def __init__(self, url: str, loop: asyncio.AbstractEventLoop, on_event=None):
        self.url = url
        self._loop = loop
        self._on_event = on_event or (lambda kind, message: None)
        self._subscribers: set = set()
        self._lock = threading.Lock()
        self._quit = threading.Event()
        self._thread: Optional[threading.Thread] = None
        # Figures (written by the reader thread).
        self.state = "stopped"  # connecting, playing, retrying, stopped
        self.video_codec = ""
        self.audio_codec = ""
        self.width = 0
        self.height = 0
        self.frames = 0
        self.bytes = 0
        self.last_frame_at = 0.0
        self.last_error = ""
        self.reconnects = 0
        self._recent = collections.deque(maxlen=200)  # arrival times of the last frames

    def fps(self) -> float:
        """Video frames per second read over the last 2 s."""
        now = time.time()
        return round(sum(1 for t in list(self._recent) if now - t <= 2.0) / 2.0, 1)

    def subscribe(self, subscriber) -> None:
        """Adds a subscriber: an object with `deliver(kind, item)` called on the loop."""
        with self._lock:
            self._subscribers.add(subscriber)

    def take_subscribers(self, other: "RtspSource") -> None:
        """Moves `other`'s subscribers here (a reopened input keeps its viewers)."""
        with other._lock:
            moved, other._subscribers = other._subscribers, set()
        with self._lock:
            self._subscribers |= moved

    def unsubscribe(self, subscriber) -> None:
        """Removes a subscriber."""
        with self._lock:
            self._subscribers.discard(subscriber)

    def start(self) -> None:
        """Starts reading (no-op when running)."""
        if self._thread and self._thread.is_alive():
            return
        self._quit.clear()
        self._thread = threading.Thread(target=self._run, name=f"rtsp:{self.url}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stops reading; returns at once (the thread ends at its next read or timeout)."""
        self._quit.set()
        self.state = "stopped"

    def _emit(self, kind: str, item) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for s in subscribers:
            self._loop.call_soon_threadsafe(s.deliver, kind, item)

    def _run(self) -> None:
        backoff = 0.5
        while not self._quit.is_set():
            self.state = "connecting"
            started = time.monotonic()
            try:
                self._read_once()
            except Exception as err:  # noqa: BLE001 - any failure of the camera means retry
                self.last_error = f"{type(err).__name__}: {err}"
            if self._quit.is_set():
                break
            if time.monotonic() - started > 20:
                backoff = 0.5
            self.state = "retrying"
            self.reconnects += 1
            self._loop.call_soon_threadsafe(
                self._on_event, "retrying",
                f"RTSP input lost ({self.last_error or 'ended'}); retrying in {backoff:g} s")
            self._quit.wait(backoff)
            backoff = min(backoff * 2, 5.0)

    def _read_once(self) -> None:
        # A relayed camera answers DESCRIBE only once the camera module reached the camera:
        # seconds on a busy machine.
        # Half a second of probing: the SDP describes the streams, and ffmpeg's 5 s default
        # would hold the first frame back.
        container = av.open(self.url, options={"rtsp_transport": "tcp", "timeout": "10000000",
                                               "analyzeduration": "500000",
                                               "probesize": "500000"},
                            timeout=(15.0, 10.0))
        try:
            video = next((s for s in container.streams.video), None)
            audio = next((s for s in container.streams.audio), None)
            if video is None:
                raise RuntimeError("the stream has no video")
            self.video_codec = video.codec_context.name
            if self.video_codec != "h264":
                raise RuntimeError(f"the video is {self.video_codec}, not h264: this bridge "
                                   "forwards H.264 only")
            self.width, self.height = video.codec_context.width, video.codec_context.height
            parameter_sets = h264_bitstream.extradata_annexb(bytes(video.codec_context.extradata
                                                                   or b""))
            streams = [video]
            resampler = None
            if audio is not None:
                self.audio_codec = audio.codec_context.name
                resampler = av.AudioResampler(format="s16", layout="stereo", rate=48000,
                                              frame_size=960)
                streams.append(audio)
            self.state = "playing"
            self.last_error = ""
            for packet in container.demux(*streams):
                if self._quit.is_set():
                    return
                if packet.size == 0 or packet.pts is None:
                    continue
                if packet.stream is video:
                    data = bytes(packet)
                    key = packet.is_keyframe or h264_bitstream.IDR in h264_bitstream.nal_types(
                        data)
                    if key:
                        data = h264_bitstream.with_parameter_sets(data, parameter_sets)
                    pts = int(packet.pts * packet.time_base / VIDEO_TIME_BASE)
                    self.frames += 1
                    self.bytes += len(data)
                    self.last_frame_at = time.time()
                    self._recent.append(self.last_frame_at)
                    self._emit("video", (data, pts, key))
                elif resampler is not None:
                    try:
                        for frame in audio.codec_context.decode(packet):
                            for out in resampler.resample(frame):
                                self._emit("audio", out)
                    except av.AVError:
                        continue  # one bad audio packet is no reason to drop the camera
        finally:
            container.close()
