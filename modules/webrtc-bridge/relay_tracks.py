"""aiortc tracks fed by an RtspSource: video as H.264 packets (aiortc packetizes them
without encoding), audio as 20 ms frames for its Opus encoder. Each viewer has its own
pair, starting at the next key frame, with timestamps rebased to start at 0 and never
go back (the camera may restart)."""
import asyncio
import fractions
import time

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

VIDEO_TIME_BASE = fractions.Fraction(1, 90000)
AUDIO_TIME_BASE = fractions.Fraction(1, 48000)
FRAME_GUESS = 3600  # 25 fps in 90 kHz units, for a timestamp that jumps


class VideoRelayTrack(MediaStreamTrack):
    """One viewer's H.264 video."""

    kind = "video"

    def __init__(self):
        super().__init__()
        self._queue: asyncio.Queue = asyncio.Queue(maxsize=90)
        self._waiting_key = True
        self._last_in = None
        self._out = 0
        self.frames = 0
        self.bytes = 0
        self.first_frame_at = 0.0
        self.last_frame_at = 0.0
        self.dropped = 0

    def deliver(self, kind: str, item) -> None:
        """Called by the source for each access unit; starts at a key frame, and starts
        over at the next key frame when the viewer falls 90 frames behind."""
        if kind != "video" or self.readyState != "live":
            return
        _data, _pts, key = item
        if self._waiting_key and not key:
            return
        if self._queue.full():
            self.dropped += self._queue.qsize()
            while not self._queue.empty():
                self._queue.get_nowait()
            self._waiting_key = True
            return
        self._waiting_key = False
        self._queue.put_nowait(item)

    async def recv(self):
        if self.readyState != "live":
            raise MediaStreamError
        data, pts, _key = await self._queue.get()
        if self._last_in is not None:
            delta = pts - self._last_in
            self._out += delta if 0 < delta < 2 * 90000 else FRAME_GUESS
        self._last_in = pts
        packet = av.Packet(data)
        packet.pts = self._out
        packet.time_base = VIDEO_TIME_BASE
        now = time.time()
        if not self.frames:
            self.first_frame_at = now
        self.frames += 1
        self.bytes += len(data)
        self.last_frame_at = now
        return packet


class AudioRelayTrack(MediaStreamTrack):
    """One viewer's audio: 20 ms stereo 48 kHz frames, Opus-encoded by aiortc."""

    kind = "audio"

    def __init__(self):
        super().__init__()
        self._queue: asyncio.Queue = asyncio.Queue(maxsize=50)
        self._samples = 0
        self.frames = 0

    def deliver(self, kind: str, item) -> None:
        """Called by the source for each audio frame; the oldest goes when 1 s queued."""
        if kind != "audio" or self.readyState != "live":
            return
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(item)

    async def recv(self):
        if self.readyState != "live":
            raise MediaStreamError
        frame = await self._queue.get()
        frame.pts = self._samples
        frame.time_base = AUDIO_TIME_BASE
        self._samples += frame.samples
        self.frames += 1
        return frame
