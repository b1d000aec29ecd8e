"""One converter entity's work: a supervised ffmpeg from an RTSP input to HLS (remux) or
MJPEG (transcode), served by the module's MediaServer.

HLS files live in a RAM directory (/dev/shm when there is one: no SD-card wear on a
Raspberry Pi), named after the module's pid so a later start can remove what a killed
module left behind. A running conversion is noted in the module's `Resume`, so that a
crash is followed by a quick restart (`resume.py`).

Run alone: `python3 conversion.py --input rtsp://127.0.0.1:8554/test --kind hls`
prints the playlist URL and serves it until interrupted.
"""
import argparse
import asyncio
import glob
import os
import shutil
import signal
import sys

import ffmpeg_commands
import mjpeg_hub
from ffmpeg_job import FfmpegJob
from ffmpeg_spawn import hls_directory, scratch_root
from media_server import MediaServer, Served
from resume import Resume

KINDS = ("hls", "mjpeg")


def remove_stale_directories() -> None:
    """Removes the HLS directories of converter processes that no longer exist."""
    for path in glob.glob(os.path.join(scratch_root(), "ca-hls-*-*")):
        try:
            pid = int(os.path.basename(path).split("-")[2])
        except (IndexError, ValueError):
            continue
        if pid != os.getpid() and not os.path.exists(f"/proc/{pid}"):
            shutil.rmtree(path, ignore_errors=True)


def hls_bitrate_kbps(directory: str) -> float:
    """The bitrate of the segments the playlist lists (ffmpeg's progress has no size for
    HLS output): their bytes over their duration."""
    try:
        with open(os.path.join(directory, "index.m3u8"), encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError:
        return 0.0
    seconds, size = 0.0, 0
    for i, line in enumerate(lines):
        if line.startswith("#EXTINF:") and i + 1 < len(lines):
            try:
                size += os.path.getsize(os.path.join(directory, lines[i + 1].strip()))
                seconds += float(line[8:].split(",")[0])
            except (OSError, ValueError):
                continue
    return round(size * 8 / 1000 / seconds, 1) if seconds else 0.0


class Conversion:
    """A converter entity: input URL in, HLS or MJPEG out, ffmpeg supervised."""

    def __init__(self, entity_id: str, kind: str, server: MediaServer, on_event=None,
                 stall_timeout: float = 3.0, resume: Resume = None):
        if kind not in KINDS:
            raise ValueError(f"unknown conversion {kind!r}; known: {', '.join(KINDS)}")
        self.entity_id = entity_id
        self.kind = kind
        self.server = server
        self.input_url = ""
        self.video_codec = "h264"
        self.audio_codec = ""
        self.quality = {}
        self._on_event = on_event or (lambda kind, message: None)
        self.hub = mjpeg_hub.MjpegHub() if kind == "mjpeg" else None
        self.directory = hls_directory(entity_id) if kind == "hls" else ""
        self.job = None
        self.stall_timeout = stall_timeout
        self.resume = resume or Resume("")
        server.add(entity_id, Served(kind=kind, directory=self.directory, hub=self.hub))

    @property
    def url(self) -> str:
        """Where the output is fetched."""
        return self.server.url(self.entity_id)

    @property
    def running(self) -> bool:
        """True while ffmpeg is supervised."""
        return self.job is not None

    def _record(self) -> dict:
        """What the conversion runs with, as the Resume keeps it."""
        return {"kind": self.kind, "input_url": self.input_url, "video_codec": self.video_codec,
                "audio_codec": self.audio_codec, "quality": self.quality}

    def _command(self) -> list:
        return ffmpeg_commands.conversion_command(self._record(), self.directory)

    def _clear(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
        os.makedirs(self.directory, exist_ok=True)

    async def start(self, input_url: str, video_codec: str = "h264", audio_codec: str = "",
                    quality: dict = None) -> None:
        """Starts (or restarts with new settings) ffmpeg on `input_url`; adopts the child
        the Resume started for this entity with the same settings (after a crash)."""
        self.input_url = input_url
        self.video_codec = video_codec
        self.audio_codec = audio_codec
        self.quality = dict(quality or {})
        record = self._record()
        adopted = self.resume.claim(self.entity_id, record)
        if not adopted:
            await self.stop_media()
        self.job = FfmpegJob(
            f"{self.kind}:{self.entity_id}",
            self._command,
            stdout_sink=self.hub.consume if self.hub else None,
            before_start=self._clear if self.kind == "hls" else None,
            on_event=self._on_event,
            stall_timeout=self.stall_timeout,
            adopt=adopted,
        )
        self.job.start()
        self.resume.remember(self.entity_id, record)

    @property
    def adopted(self) -> bool:
        """True when the running ffmpeg was started by the Resume, before this entity was
        created again."""
        return self.job is not None and self.job.adopted

    async def stop_media(self) -> None:
        """Stops ffmpeg; the output stays served (empty) until `close()`."""
        self.resume.forget(self.entity_id)
        if self.job:
            job, self.job = self.job, None
            await job.stop()
        if self.directory:
            shutil.rmtree(self.directory, ignore_errors=True)

    async def close(self) -> None:
        """Stops ffmpeg (one resumed for this entity too) and stops serving."""
        self.resume.drop_unclaimed(self.entity_id)
        await self.stop_media()
        self.server.remove(self.entity_id)

    def totals(self, side: str) -> tuple:
        """(frames, bytes) of one side, for the MediaStats: "received", the frames ffmpeg
        read and converted (from its progress; it tells no input bytes, so 0), and
        "sent", the frames made available (ffmpeg's output frames written into HLS
        segments, or the JPEGs published) and the bytes served over HTTP."""
        job_frames = self.job.frames if self.job else 0
        if side == "received":
            return job_frames, 0
        served = self.server.outputs.get(self.entity_id)
        sent_bytes = served.bytes_out if served else 0
        return (self.hub.frames if self.hub else job_frames), sent_bytes

    def figures(self) -> dict:
        """ffmpeg's figures plus what was served."""
        served = self.server.outputs.get(self.entity_id)
        out = self.job.figures() if self.job else {"state": "stopped", "frames": 0}
        out["url"] = self.url
        if self.kind == "hls" and self.job and not out.get("bitrate_kbps"):
            out["bitrate_kbps"] = hls_bitrate_kbps(self.directory)
        if served:
            out["requests"] = served.requests
            out["bytes_out"] = served.bytes_out
        if self.hub:
            out["clients"] = self.hub.clients
        return out


async def _main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--input", required=True)
    parser.add_argument("--kind", choices=KINDS, default="hls")
    parser.add_argument("--bind", default="127.0.0.1")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--id", default="test")
    args = parser.parse_args()
    remove_stale_directories()
    server = MediaServer(args.bind, args.port, args.host)
    await server.start()
    conversion = Conversion(args.id, args.kind, server,
                            lambda kind, msg: print(f"{kind}: {msg}", file=sys.stderr, flush=True))
    await conversion.start(args.input)
    print(conversion.url, flush=True)
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, done.set)
    loop.add_reader(sys.stdin.fileno(), lambda: done.set() if not os.read(0, 4096) else None)
    while not done.is_set():
        try:
            await asyncio.wait_for(done.wait(), 2)
        except asyncio.TimeoutError:
            print(conversion.figures(), file=sys.stderr, flush=True)
    await conversion.close()
    await server.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(_main()))
