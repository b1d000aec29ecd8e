"""MJPEG fan-out: reads ffmpeg's multipart JPEG output and hands each new JPEG to every
HTTP client watching. A slow client skips frames instead of growing a queue."""
import asyncio
import time
from typing import Optional

BOUNDARY = "frame"


class MjpegHub:
    """The latest JPEG of one converter and the clients waiting for the next."""

    def __init__(self):
        self.frame: Optional[bytes] = None
        self.frames = 0
        self.last_frame_at = 0.0
        self.clients = 0
        self._new = asyncio.Event()

    def publish(self, jpeg: bytes) -> None:
        """A new frame: wake every client."""
        self.frame = jpeg
        self.frames += 1
        self.last_frame_at = time.time()
        self._new.set()
        self._new = asyncio.Event()

    async def next_frame(self, seen: int, timeout: float) -> Optional[bytes]:
        """The first frame after number `seen`, or None after `timeout` seconds."""
        if self.frames > seen and self.frame is not None:
            return self.frame
        event = self._new
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except asyncio.TimeoutError:
            return None
        return self.frame

    async def consume(self, reader: asyncio.StreamReader) -> None:
        """Parses ffmpeg's `-f mpjpeg` output (parts with Content-length) into frames."""
        while True:
            line = await reader.readline()
            if not line:
                return
            if not line.startswith(b"--"):
                continue
            length = -1
            while True:
                header = await reader.readline()
                if not header:
                    return
                header = header.strip()
                if not header:
                    break
                name, _, value = header.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            if length < 0:
                continue
            jpeg = await reader.readexactly(length)
            self.publish(jpeg)


def part(jpeg: bytes) -> bytes:
    """One part of a multipart/x-mixed-replace response."""
    head = (f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
            f"Content-Length: {len(jpeg)}\r\n\r\n").encode()
    return head + jpeg + b"\r\n"
