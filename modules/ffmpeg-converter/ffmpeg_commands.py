"""The ffmpeg command lines of the converter: RTSP to HLS (a remux: the video is copied,
never decoded) and RTSP to MJPEG (a transcode). FfmpegJob adds the progress options."""
import time

FFMPEG = "ffmpeg"
# How long a segment lasts at least. With `-c copy` ffmpeg can only cut at a key frame,
# and only once the segment is this long, so the camera's key-frame interval (0.48 s for
# the test pattern, often 1-4 s for a camera) sets the real length. Below any sane
# interval so that ffmpeg cuts at every key frame: at 0.5 s, a 0.48 s interval made every
# other segment 0.96 s, and a fresh converter took ~0.5 s longer to list 1.5 s.
SEGMENT_SECONDS = 0.25
LIST_SIZE = 6


def _input(url: str, low_delay: bool) -> list:
    args = [FFMPEG, "-hide_banner", "-nostdin", "-nostats", "-loglevel", "warning"]
    if low_delay:
        args += ["-fflags", "nobuffer", "-flags", "low_delay"]
    # TCP: no lost packets on the way in, and no UDP ports to open. 5 s without a byte ends
    # ffmpeg (and the job starts it again): a gst-rtsp-server media that froze as ffmpeg
    # joined stayed frozen, for every reader, until this timeout let go of it (10 s before).
    # Half a second of probing is enough for an RTSP stream (its SDP describes the
    # codecs) and starts the output ~0.6 s sooner than ffmpeg's default 5 s budget.
    args += ["-rtsp_transport", "tcp", "-timeout", "5000000", "-analyzeduration", "500000",
             "-probesize", "500000", "-i", url]
    return args


def hls_start_number() -> int:
    """A media sequence number that grows across restarts (4 per second, while segments
    last at least SEGMENT_SECONDS), so a player never sees the playlist go back in time."""
    return (int(time.time()) - 1_700_000_000) * 4


def hls_command(url: str, out_dir: str, audio_codec: str = "", video_codec: str = "h264",
                gop: int = 25) -> list:
    """RTSP H.264 (+ audio) -> HLS in `out_dir/index.m3u8`.

    H.264 video is copied; other video (H.265) is transcoded to H.264 with a key frame
    every `gop` frames. `audio_codec` is the source's audio codec when a flow carries
    audio: AAC is copied, anything else is transcoded to AAC; empty takes the source's
    first audio stream if there is one, transcoded to AAC (cheap), so the screen has sound.
    """
    args = _input(url, low_delay=False)
    if video_codec == "h264":
        args += ["-map", "0:v:0", "-c:v", "copy"]
    else:
        args += ["-map", "0:v:0", "-c:v", "libx264", "-preset", "ultrafast", "-tune",
                 "zerolatency", "-x264-params", "sliced-threads=0", "-g", str(gop),
                 "-pix_fmt", "yuv420p"]
    if audio_codec == "aac":
        args += ["-map", "0:a:0", "-c:a", "copy"]
    else:
        args += ["-map", "0:a:0?", "-c:a", "aac", "-b:a", "96k"]
    args += [
        "-f", "hls",
        "-hls_time", str(SEGMENT_SECONDS),
        "-hls_list_size", str(LIST_SIZE),
        "-hls_flags", "delete_segments+independent_segments+omit_endlist+temp_file",
        "-hls_allow_cache", "0",
        "-start_number", str(hls_start_number()),
        "-hls_segment_filename", f"{out_dir}/s%d.ts",
    ]
    return args + [f"{out_dir}/index.m3u8"]


def mjpeg_command(url: str, width: int = 0, height: int = 0, fps: int = 0,
                  quality: int = 5) -> list:
    """RTSP (any video ffmpeg decodes) -> multipart JPEG on standard output.

    `width`/`height` bound the size (aspect kept, never enlarged); `fps` caps the rate;
    `quality` is the JPEG qscale (2 best .. 31 worst).
    """
    args = _input(url, low_delay=True)
    filters = []
    if fps:
        filters.append(f"fps={fps}")
    if width and height:
        filters.append(
            f"scale='min({width},iw)':'min({height},ih)':force_original_aspect_ratio=decrease"
            ":force_divisible_by=2")
    args += ["-map", "0:v:0", "-an"]
    if filters:
        args += ["-vf", ",".join(filters)]
    args += ["-c:v", "mjpeg", "-q:v", str(quality), "-f", "mpjpeg", "-boundary_tag", "ffmpeg"]
    return args + ["pipe:1"]


def conversion_command(record: dict, directory: str = "") -> list:
    """The command of a conversion described by `record` (as `resume.py` keeps it):
    "kind" ("hls" into `directory`, or "mjpeg"), "input_url", "video_codec",
    "audio_codec" and "quality" (width, height, fps, jpeg_quality)."""
    if record["kind"] == "hls":
        return hls_command(record["input_url"], directory, record.get("audio_codec", ""),
                           record.get("video_codec", "h264"))
    q = record.get("quality") or {}
    return mjpeg_command(record["input_url"], q.get("width", 0), q.get("height", 0),
                         q.get("fps", 0), q.get("jpeg_quality", 5))
