"""The converter's HTTP server: HLS playlists and segments, and MJPEG streams.

    GET /hls/<id>/index.m3u8   the live playlist: its last complete segments and the one
                               ffmpeg writes now, 1.4 s together (held until ffmpeg wrote
                               that much, 404 after 4 s: Chromium gives up for good on a
                               one-segment live playlist, and errors on a shorter one)
    GET /hls/<id>/<segment>.ts a segment; the one being written is held until complete
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
# (DEMUXER_ERROR_COULD_NOT_PARSE) or stalls on one shorter than about its reload period
# (it reloads at most once a target duration, a whole second at least): the playlist is
# served once it lists 1.4 s, as its last 1.4 s (or more: whole segments). That counts the
# segment ffmpeg writes now (announced, see `served_playlist`): two complete 0.48 s segments of the
# test pattern and the one coming, where three complete ones cost a key-frame interval
# more before a fresh converter is played, and as much more latency.
PLAYLIST_MIN_SECONDS = 1.4
# A playlist asked for before it is ready is held this long (checked every 50 ms) instead
# of a 404 at once: the player gets it the moment ffmpeg wrote it, not at its next retry.
PLAYLIST_WAIT_S = 4.0
PLAYLIST_CHECK_S = 0.05
SEGMENT_CHECK_S = 0.02
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


def _sequence(name: str) -> int:
    """The media sequence number in a segment name ffmpeg wrote (`s<number>.ts`), -1
    when there is none."""
    digits = name[1:-3] if name.startswith("s") and name.endswith(".ts") else ""
    return int(digits) if digits.isdigit() else -1


def next_segment(text: str):
    """(name, duration) of the segment ffmpeg writes now: the one after the playlist's
    last, predicted to last as long as that one did (a camera's key-frame interval is
    steady); None when the playlist lists none or names them otherwise."""
    _, segments, _ = _segments(text)
    if not segments:
        return None
    duration, lines = segments[-1]
    number = _sequence(lines[-1].strip())
    return (f"s{number + 1}.ts", duration) if number >= 0 and duration > 0 else None


def live_edge(text: str, seconds: float, min_segments: int = 2) -> str:
    """The playlist with only its last segments, `seconds` of them (at least
    `min_segments`), the media sequence moved on to match. A player starts at a live
    playlist's first segment, so this is what bounds the latency of HLS, however late the
    player came."""
    head, segments, rest = _segments(text)
    keep, total = 0, 0.0
    for duration, _ in reversed(segments):
        if keep >= min_segments and total >= seconds:
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


def served_playlist(text: str):
    """The playlist as a player gets it, or None while ffmpeg's lists too little to play.

    Its last complete segments and, announced after them, the one ffmpeg writes now
    (`next_segment`), PLAYLIST_MIN_SECONDS together. The announced segment's request is
    held until ffmpeg finished it, so a player starts (and a restarted converter is played
    again) one key-frame interval sooner, that much closer to the live edge. Its duration
    is a prediction; Chromium times a live stream by the segments' own timestamps."""
    upcoming = next_segment(text)
    ahead = upcoming[1] if upcoming else 0.0
    listed = playlist_segments(text) + (1 if upcoming else 0)
    if listed < 2 or playlist_seconds(text) + ahead < PLAYLIST_MIN_SECONDS:
        return None
    if not upcoming:
        return live_edge(text, PLAYLIST_MIN_SECONDS)
    edge = live_edge(text, PLAYLIST_MIN_SECONDS - ahead, min_segments=1)
    name, duration = upcoming
    return edge.rstrip("\n") + f"\n#EXTINF:{duration:.6f},\n{name}\n"


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
            body = text.encode()
            content_type = "application/vnd.apple.mpegurl"
        else:
            body = await self._segment(request.match_info["id"], served, name)
            content_type = "video/mp2t"
        served.bytes_out += len(body)
        return web.Response(body=body, content_type=content_type, headers=CORS)

    async def _ready_playlist(self, entity_id: str, served: Served, path: str):
        """The playlist to serve (`served_playlist`) once ffmpeg's lists enough to play,
        waiting up to PLAYLIST_WAIT_S for ffmpeg to get there (a converter just started);
        None when it did not, or the output went away."""
        deadline = time.monotonic() + PLAYLIST_WAIT_S
        while True:
            try:
                with open(path, "rb") as f:
                    text = f.read().decode(errors="replace")
                playable = served_playlist(text)
                if playable is not None:
                    return playable
            except FileNotFoundError:
                pass
            if time.monotonic() >= deadline or self.outputs.get(entity_id) is not served:
                return None
            await asyncio.sleep(PLAYLIST_CHECK_S)

    async def _segment(self, entity_id: str, served: Served, name: str) -> bytes:
        """A segment's bytes; the announced one (the next after the playlist's last) is
        waited for while ffmpeg writes it, up to twice its predicted length and a second."""
        path = os.path.join(served.directory, name)
        deadline = None
        while True:
            try:
                with open(path, "rb") as f:
                    return f.read()
            except FileNotFoundError:
                pass
            if deadline is None:
                try:
                    with open(os.path.join(served.directory, "index.m3u8"), "rb") as f:
                        upcoming = next_segment(f.read().decode(errors="replace"))
                except FileNotFoundError:
                    upcoming = None
                if not upcoming or upcoming[0] != name:
                    break
                deadline = time.monotonic() + 2 * upcoming[1] + 1.0
            if time.monotonic() >= deadline or self.outputs.get(entity_id) is not served:
                break
            await asyncio.sleep(SEGMENT_CHECK_S)
        raise web.HTTPNotFound(text=f"{name} is not there (yet)\n", headers=CORS)

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
