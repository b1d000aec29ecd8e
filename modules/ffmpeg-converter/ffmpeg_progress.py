"""Reading ffmpeg's `-progress` output: blocks of `key=value` lines, each ended by
`progress=continue` (or `progress=end`), written every `-stats_period` seconds."""
from dataclasses import dataclass


@dataclass
class Progress:
    """One `-progress` block, the figures we use."""

    frame: int = 0
    fps: float = 0.0
    bitrate_kbps: float = 0.0  # ffmpeg's average since the start of this run
    total_size: int = 0
    out_time_ms: int = 0
    speed: float = 0.0
    ended: bool = False


def _number(value: str) -> float:
    """ffmpeg writes "N/A", "1024.5kbits/s", "1.01x": the leading number, or 0."""
    digits = ""
    for ch in value.strip():
        if ch.isdigit() or ch in ".-" or (ch in "eE+" and digits):
            digits += ch
        else:
            break
    try:
        return float(digits)
    except ValueError:
        return 0.0


class ProgressParser:
    """Feed it lines; it returns a Progress at the end of each block."""

    def __init__(self):
        self._values = {}

    def feed(self, line: str):
        """One line of output; a Progress when the line ends a block, else None."""
        key, sep, value = line.strip().partition("=")
        if not sep:
            return None
        if key != "progress":
            self._values[key] = value
            return None
        v, self._values = self._values, {}
        out_us = v.get("out_time_us") or v.get("out_time_ms") or "0"
        return Progress(
            frame=int(_number(v.get("frame", "0"))),
            fps=_number(v.get("fps", "0")),
            bitrate_kbps=_number(v.get("bitrate", "0")),
            total_size=int(_number(v.get("total_size", "0"))),
            out_time_ms=int(_number(out_us) / 1000),
            speed=_number(v.get("speed", "0")),
            ended=value.strip() == "end",
        )
