"""Probing an RTSP camera: is it there, does it speak RTSP, do the credentials work, and
what does it really send.

Two steps, so that every failure gets its own clear reason: an RTSP OPTIONS request of
our own (DNS, connection refused, no answer, not RTSP), then `ffprobe` (credentials,
path, the streams and their codecs). Passwords never appear in messages.

Run alone: `python3 rtsp_probe.py rtsp://127.0.0.1:8554/test [--user U --password P]`.
"""
import argparse
import asyncio
import json
import socket
import sys
import time
import urllib.parse
from dataclasses import asdict, dataclass, field

# ffprobe's codec names -> the codec names of media formats.
CODECS = {
    "h264": "h264",
    "hevc": "h265",
    "mjpeg": "mjpeg",
    "mpeg4": "mpeg4",
    "aac": "aac",
    "pcm_mulaw": "pcmu",
    "pcm_alaw": "pcma",
    "opus": "opus",
    "mp3": "mp3",
    "adpcm_g726": "g726",
}


class ProbeError(Exception):
    """Why a camera cannot be used. `kind` is one of: bad_url, dns, refused, unreachable,
    timeout, not_rtsp, unauthorized, not_found, no_media, failed."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


@dataclass
class Stream:
    """One stream the camera sends."""

    media_type: str  # "video" or "audio"
    codec: str  # a media-format codec name ("h264", "aac", ...), or ffprobe's own name
    width: int = 0
    height: int = 0
    fps: float = 0.0
    profile: str = ""
    sample_rate: int = 0
    channels: int = 0


@dataclass
class ProbeResult:
    """What the camera sends, and how long finding out took."""

    url: str  # without credentials
    streams: list = field(default_factory=list)
    elapsed_ms: int = 0

    def formats(self) -> list:
        """The media formats, as {media_type, protocol, codec} dicts (first of each kind)."""
        out = []
        for s in self.streams:
            f = {"media_type": s.media_type, "protocol": "rtsp", "codec": s.codec}
            if f not in out:
                out.append(f)
        return out


def redact(url: str) -> str:
    """The URL without user and password."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def with_credentials(url: str, user: str, password: str) -> str:
    """The URL with user and password (given ones win over ones already in the URL)."""
    parts = urllib.parse.urlsplit(url)
    user = user or urllib.parse.unquote(parts.username or "")
    password = password or urllib.parse.unquote(parts.password or "")
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    if user or password:
        creds = urllib.parse.quote(user, safe="")
        if password:
            creds += ":" + urllib.parse.quote(password, safe="")
        netloc = f"{creds}@{netloc}"
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def check_url(url: str) -> tuple:
    """(host, port) of an rtsp:// URL; ProbeError(bad_url) otherwise."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port or 554
    except ValueError as err:
        raise ProbeError("bad_url", f"{redact(url)!r} is not a valid URL: {err}") from err
    if parts.scheme != "rtsp":
        raise ProbeError(
            "bad_url",
            f"{redact(url)!r} is not an RTSP URL: expected rtsp://host[:port]/path",
        )
    if not parts.hostname:
        raise ProbeError("bad_url", f"{redact(url)!r} has no host")
    return parts.hostname, port


async def rtsp_options(url: str, timeout: float) -> str:
    """Sends RTSP OPTIONS; returns the status line. Raises ProbeError for what is not an
    answering RTSP server."""
    host, port = check_url(url)
    where = f"{host}:{port}"
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except asyncio.TimeoutError as err:
        raise ProbeError("timeout", f"no answer from {where} within {timeout:g} s") from err
    except socket.gaierror as err:
        raise ProbeError("dns", f"cannot resolve host {host!r}: {err.strerror}") from err
    except ConnectionRefusedError as err:
        raise ProbeError("refused", f"connection to {where} refused (nothing listens there)") \
            from err
    except OSError as err:
        raise ProbeError("unreachable", f"cannot reach {where}: {err.strerror or err}") from err
    try:
        request = f"OPTIONS {redact(url)} RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: callassistant\r\n\r\n"
        writer.write(request.encode())
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), timeout)
    except asyncio.TimeoutError as err:
        raise ProbeError(
            "timeout", f"{where} accepted the connection but sent no RTSP answer within "
            f"{timeout:g} s") from err
    except OSError as err:
        raise ProbeError("unreachable", f"{where} closed the connection: {err}") from err
    finally:
        writer.close()
    status = line.decode("latin-1").strip()
    if not status.startswith("RTSP/"):
        shown = status[:60] or "(closed the connection without a word)"
        raise ProbeError("not_rtsp", f"{where} is not an RTSP server; it answered: {shown!r}")
    return status


def classify_ffprobe(stderr: str, url: str) -> ProbeError:
    """A ProbeError from ffprobe's error output."""
    text = stderr.strip().splitlines()
    last = text[-1] if text else "ffprobe failed without a message"
    last = last.replace(url, redact(url))
    if "401" in stderr:
        return ProbeError("unauthorized", f"{redact(url)}: the camera refused the user name "
                          "or password (401 Unauthorized)")
    if "404" in stderr:
        return ProbeError("not_found", f"{redact(url)}: no stream at this path (404 Not Found)")
    if "403" in stderr:
        return ProbeError("unauthorized", f"{redact(url)}: access forbidden (403)")
    return ProbeError("failed", f"{redact(url)}: {last}")


async def probe(url: str, user: str = "", password: str = "", timeout: float = 5.0) -> ProbeResult:
    """The streams of an RTSP camera; ProbeError with a clear reason otherwise."""
    started = time.monotonic()
    await rtsp_options(url, timeout)
    full = with_credentials(url, user, password)
    proc = await asyncio.create_subprocess_exec(
        "ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-timeout",
        str(int(timeout * 1_000_000)), "-analyzeduration", "3000000", "-show_streams", "-of",
        "json", full,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout * 2 + 2)
    except asyncio.TimeoutError as exc:
        proc.kill()
        await proc.wait()
        raise ProbeError("timeout", f"{redact(url)}: ffprobe found no stream within "
                         f"{timeout * 2 + 2:g} s") from exc
    if proc.returncode != 0:
        raise classify_ffprobe(err.decode(errors="replace"), full)
    streams = []
    for s in json.loads(out or b"{}").get("streams", []):
        kind = s.get("codec_type")
        if kind not in ("video", "audio"):
            continue
        name = s.get("codec_name", "unknown")
        rate = s.get("avg_frame_rate") or s.get("r_frame_rate") or "0/1"
        num, _, den = rate.partition("/")
        fps = float(num) / float(den) if den and float(den) else 0.0
        streams.append(Stream(
            media_type=kind, codec=CODECS.get(name, name), width=s.get("width", 0),
            height=s.get("height", 0), fps=round(fps, 2), profile=s.get("profile", ""),
            sample_rate=int(s.get("sample_rate", 0) or 0), channels=s.get("channels", 0),
        ))
    if not streams:
        raise ProbeError("no_media", f"{redact(url)}: the stream has no audio or video")
    return ProbeResult(redact(url), streams, int((time.monotonic() - started) * 1000))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("url")
    parser.add_argument("--user", default="")
    parser.add_argument("--password", default="")
    parser.add_argument("--timeout", type=float, default=5.0)
    args = parser.parse_args()
    try:
        result = asyncio.run(probe(args.url, args.user, args.password, args.timeout))
    except ProbeError as err:
        print(json.dumps({"error": err.kind, "message": str(err)}))
        return 1
    print(json.dumps({**asdict(result), "formats": result.formats()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
