"""The converter's HTTP server: HLS playlists and segments, and MJPEG streams.

    GET /hls/<id>/index.m3u8   the live playlist, as its last 1.5 s (held until ffmpeg
                               wrote that much, 404 after 4 s: Chromium gives up for
                               good on a one-segment live playlist, and errors on a
                               shorter one)
    GET /hls/<id>/<segment>.ts a segment
    GET /mjpeg/<id>            multipart/x-mixed-replace JPEG stream
    GET /mjpeg/<id>/frame.jpg  the latest JPEG
    GET /                      what is served, as JSON

Every answer allows any origin (CORS), so a screen page on another port can read the
pixels of the video (the latency reader draws it on a canvas).
"""
import asyncio
import os
import socket
import time
from dataclasses import dataclass, field

from aiohttp import web

import mjpeg_hub

# Chromium gives up for good on a live playlist of one segment, and errors
# (DEMUXER_ERROR_COULD_NOT_PARSE) on one shorter than about two target durations: the
# playlist is served once it lists 1.4 s, as its last 1.4 s (or more: whole segments).
# 1.4, not 1.5: three of the test pattern's 0.48 s segments are enough, where 1.5 s took
# a fourth one (0.5 s more before a fresh converter is played, and 0.5 s more latency).
PLAYLIST_MIN_SECONDS = 1.4
# A playlist asked for before it is ready is held this long (checked every 50 ms) instead
# of a 404 at once: the player gets it the moment ffmpeg wrote it, not at its next retry.
PLAYLIST_WAIT_S = 4.0
PLAYLIST_CHECK_S = 0.05
CORS = {"Access-Control-Allow-Origin": "*", "Cache-Control": "no-cache, no-store"}


@dataclass
class Served:
    """What one converter entity serves, and how much was fetched."""

    kind: str  # "hls" or "mjpeg"
    directory: str = ""  # hls
    hub: mjpeg_hub.MjpegHub = None  # mjpeg
    requests: int = 0
    bytes_out: int = 0
    last_request_at: float = 0.0
    viewers: set = field(default_factory=set)  # client addresses seen in the last minute


def listen(bind: str, port: int) -> socket.socket:
    """A listening TCP socket on bind:port (0: a free port); OSError when taken."""
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((bind, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def playlist_segments(text: str) -> int:
    """How many segments a playlist lists."""
    return sum(1 for line in text.splitlines() if line.startswith("#EXTINF"))


def _segments(text: str):
    """(head lines, [(duration, lines)], trailing lines) of a media playlist."""
    lines = text.splitlines()
    first = next((i for i, line in enumerate(lines) if line.startswith("#EXTINF")), len(lines))
    head, segments, current = lines[:first], [], []
    for line in lines[first:]:
        current.append(line)
        if line and not line.startswith("#"):
            extinf = next((x for x in current if x.startswith("#EXTINF:")), "#EXTINF:0,")
            try:
                duration = float(extinf[8:].split(",")[0])
            except ValueError:
                duration = 0.0
            segments.append((duration, current))
            current = []
    return head, segments, current


def playlist_seconds(text: str) -> float:
    """The duration a playlist lists."""
    return sum(d for d, _ in _segments(text)[1])


def live_edge(text: str, seconds: float) -> str:
    """The playlist with only its last segments, `seconds` of them (at least two), the
    media sequence moved on to match. A player starts at a live playlist's first
    segment, so this is what bounds the latency of HLS, however late the player came.
    Chromium errors when the window is shorter than about two target durations."""
    head, segments, rest = _segments(text)
    keep, total = 0, 0.0
    for duration, _ in reversed(segments):
        if keep >= 2 and total >= seconds:
            break
        keep += 1
        total += duration
    dropped = len(segments) - keep
    if dropped <= 0:
        return text
    out = []
    for line in head:
        if line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            line = f"#EXT-X-MEDIA-SEQUENCE:{int(line.split(':', 1)[1]) + dropped}"
        out.append(line)
    for _, lines in segments[dropped:]:
        out.extend(lines)
    return "\n".join(out + rest) + "\n"


class MediaServer:
    """Serves the outputs of every converter entity of the module."""

    def __init__(self, bind: str, port: int, host: str):
        self.bind = bind
        self.host = host
        # Bound now, so every URL is known before the first request; served by start().
        self._socket = listen(bind, port)
        self.port = self._socket.getsockname()[1]
        self.outputs: dict = {}
        self._runner = None

    def url(self, entity_id: str) -> str:
        """Where the entity's output is fetched (HLS playlist or MJPEG stream)."""
        served = self.outputs.get(entity_id)
        host = f"[{self.host}]" if ":" in self.host else self.host
        base = f"http://{host}:{self.port}"
        if served and served.kind == "mjpeg":
            return f"{base}/mjpeg/{entity_id}"
        return f"{base}/hls/{entity_id}/index.m3u8"

    def add(self, entity_id: str, served: Served) -> None:
        """Serves an entity's output."""
        self.outputs[entity_id] = served

    def remove(self, entity_id: str) -> None:
        """Stops serving an entity's output."""
        self.outputs.pop(entity_id, None)

    async def start(self) -> int:
        """Serves on the bound socket; returns the port."""
        app = web.Application()
        app.router.add_get("/", self._index)
        app.router.add_get("/hls/{id}/{name}", self._hls)
        app.router.add_get("/mjpeg/{id}", self._mjpeg)
        app.router.add_get("/mjpeg/{id}/frame.jpg", self._snapshot)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        await web.SockSite(self._runner, self._socket).start()
        return self.port

    async def close(self) -> None:
        """Stops listening and ends every stream."""
        if self._runner:
            await self._runner.cleanup()

    def _find(self, request, kind: str) -> Served:
        entity_id = request.match_info["id"]
        served = self.outputs.get(entity_id)
        if not served or served.kind != kind:
            raise web.HTTPNotFound(
                text=f"no {kind.upper()} output for {entity_id!r} on this converter\n",
                headers=CORS)
        served.requests += 1
        served.last_request_at = time.time()
        served.viewers.add(request.remote)
        return served

    async def _index(self, _request):
        return web.json_response(
            {k: {"kind": v.kind, "url": self.url(k), "requests": v.requests}
             for k, v in self.outputs.items()}, headers=CORS)

    async def _hls(self, request):
        served = self._find(request, "hls")
        name = request.match_info["name"]
        if "/" in name or name.startswith(".") or not (name.endswith(".ts") or
                                                       name == "index.m3u8"):
            raise web.HTTPNotFound(text="no such file\n", headers=CORS)
        path = os.path.join(served.directory, name)
        if name == "index.m3u8":
            text = await self._ready_playlist(request.match_info["id"], served, path)
            if text is None:
                raise web.HTTPNotFound(
                    text=f"the playlist lists less than {PLAYLIST_MIN_SECONDS:g} s yet\n",
                    headers=CORS)
            body = live_edge(text, PLAYLIST_MIN_SECONDS).encode()
            content_type = "application/vnd.apple.mpegurl"
        else:
            try:
                with open(path, "rb") as f:
                    body = f.read()
            except FileNotFoundError:
                raise web.HTTPNotFound(text=f"{name} is not there (yet)\n", headers=CORS)
            content_type = "video/mp2t"
        served.bytes_out += len(body)
        return web.Response(body=body, content_type=content_type, headers=CORS)

    async def _ready_playlist(self, entity_id: str, served: Served, path: str):
        """The playlist's text once it lists enough to play (two segments, at least
        PLAYLIST_MIN_SECONDS), waiting up to PLAYLIST_WAIT_S for ffmpeg to get there
        (a converter just started); None when it did not, or the output went away."""
        deadline = time.monotonic() + PLAYLIST_WAIT_S
        while True:
            try:
                with open(path, "rb") as f:
                    text = f.read().decode(errors="replace")
                if playlist_seconds(text) >= PLAYLIST_MIN_SECONDS and \
                        playlist_segments(text) >= 2:
                    return text
            except FileNotFoundError:
                pass
            if time.monotonic() >= deadline or self.outputs.get(entity_id) is not served:
                return None
            await asyncio.sleep(PLAYLIST_CHECK_S)

    async def _snapshot(self, request):
        served = self._find(request, "mjpeg")
        if served.hub.frame is None:
            raise web.HTTPNotFound(text="no frame yet\n", headers=CORS)
        return web.Response(body=served.hub.frame, content_type="image/jpeg", headers=CORS)

    async def _mjpeg(self, request):
        served = self._find(request, "mjpeg")
        hub = served.hub
        response = web.StreamResponse(headers={
            **CORS, "Content-Type": f"multipart/x-mixed-replace; boundary={mjpeg_hub.BOUNDARY}"})
        await response.prepare(request)
        hub.clients += 1
        seen = 0
        try:
            while served is self.outputs.get(request.match_info["id"]):
                frame = await hub.next_frame(seen, 5.0)
                if frame is None:
                    continue  # the converter restarts; keep the client
                seen = hub.frames
                chunk = mjpeg_hub.part(frame)
                await response.write(chunk)
                served.bytes_out += len(chunk)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            hub.clients -= 1
        return response
