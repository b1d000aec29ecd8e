"""`MediaMeter`: the figures of one side of one connection (`MediaStats` in the contract),
counted as media passes, so a module does not work out fps, bitrate, last-frame time,
stalls and latency percentiles itself. Report them with
`self.events.media(flow_id, [meter, ...])` about once a second while the flow runs.

    meter = ca.MediaMeter("cam-to-tv-video-0", ca.MediaSide.SENT, codec="h264")
    meter.frames(1, len(packet))                      # as each frame leaves
    meter.totals(progress.frame, progress.total_size)  # or from a counter kept elsewhere

Every method may be called from any thread (a GStreamer pad probe, a reader thread): a
lock guards the counters.
"""

import threading
import time
from typing import Callable, List, Optional

from google.protobuf.timestamp_pb2 import Timestamp

from .proto_types import LatencySource, MediaSide
from .v1 import media_pb2

#: How many latency samples are kept (the p95 span) and how many the median spans.
LATENCY_KEEP = 100
LATENCY_RECENT = 10
#: Rate samples closer than this (seconds) are merged.
SAMPLE_S = 0.1


def _timestamp(seconds: float) -> Timestamp:
    ts = Timestamp()
    ts.FromNanoseconds(int(round(seconds * 1e9)))
    return ts


def _percentile(values: List[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


class MediaMeter:
    """Counts one side of one connection; `stats()` is its `MediaStats`.

    `side` is SENT (a sender), RECEIVED or PRESENTED (a receiver); `now` is the clock in
    seconds since the epoch (tests give their own); `window` the span of fps and bitrate
    (2 s); `stall_gap` how long without a new frame is a stall (2 s, as the contract says).
    """

    def __init__(
        self,
        connection_id: str,
        side: int,
        *,
        codec: str = "",
        now: Callable[[], float] = time.time,
        window: float = 2.0,
        stall_gap: float = 2.0,
    ):
        if not connection_id:
            raise ValueError("MediaMeter: connection_id is required")
        if int(side) not in (MediaSide.SENT, MediaSide.RECEIVED, MediaSide.PRESENTED):
            raise ValueError("MediaMeter: side must be SENT, RECEIVED or PRESENTED")
        self.connection_id = connection_id
        self.side = int(side)
        #: The codec carried or decoded, lower case ("h264").
        self.codec = codec
        #: The picture size, 0 when unknown.
        self.width = 0
        self.height = 0
        self._now = now
        self._window = window
        self._stall_gap = stall_gap
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Starts counting again from zero (a new StartFlow): a new `started_at`."""
        with self._lock:
            self._started_at = self._now()
            self._frames = self._bytes = self._dropped = 0
            self._stalls = self._restarts = 0
            self._first_frame_at = self._last_frame_at = 0.0
            self._in_gap = False
            self._external = {"frames": 0, "bytes": 0, "dropped": 0}
            self._samples: List[list] = []
            self._latencies: List[float] = []
            self._latency_source = LatencySource.UNSPECIFIED

    # -- counting ------------------------------------------------------------------

    def frames(self, count: int = 1, nbytes: int = 0) -> None:
        """Counts `count` new frames carrying `nbytes` in all, now."""
        with self._lock:
            self._count(self._now(), count, nbytes)

    def add_bytes(self, nbytes: int) -> None:
        """Counts bytes that came without a frame of their own."""
        self.frames(0, nbytes)

    def totals(self, frames: int, nbytes: Optional[int] = None) -> None:
        """Takes totals from a counter kept elsewhere (ffmpeg's progress, a reader's
        count): what grew since the last call is counted. A total smaller than the last
        (that counter started again, e.g. a restarted process) counts from zero."""
        with self._lock:
            new_frames = self._grown("frames", frames)
            new_bytes = self._grown("bytes", nbytes) if nbytes is not None else 0
            self._count(self._now(), new_frames, new_bytes)

    def baseline(self, frames: int, nbytes: int = 0, dropped: int = 0) -> None:
        """Takes the current totals of a counter kept elsewhere as the starting point of
        `totals` and `dropped_total`: what it counted before (another flow's frames of a
        shared stream) is not counted here."""
        with self._lock:
            self._external["frames"] = max(0, int(frames))
            self._external["bytes"] = max(0, int(nbytes))
            self._external["dropped"] = max(0, int(dropped))

    def dropped(self, count: int = 1) -> None:
        """Counts `count` frames lost at this side."""
        with self._lock:
            self._dropped += max(0, int(count))

    def dropped_total(self, total: int) -> None:
        """Takes a total of lost frames from a counter kept elsewhere (see `totals`)."""
        with self._lock:
            self._dropped += self._grown("dropped", total)

    def latency(self, ms: float, source: int) -> None:
        """Records one frame's latency in ms, and how it was measured (LatencySource)."""
        if ms != ms or ms in (float("inf"), float("-inf")):
            return
        with self._lock:
            self._latencies.append(float(ms))
            if len(self._latencies) > LATENCY_KEEP:
                del self._latencies[0]
            self._latency_source = int(source)

    def size(self, width: int, height: int) -> None:
        """The picture size."""
        self.width, self.height = max(0, int(width)), max(0, int(height))

    def restarted(self) -> None:
        """Notes that this side's media was restarted (own recovery, ReestablishConnection)."""
        with self._lock:
            self._restarts += 1

    @property
    def frame_count(self) -> int:
        """Frames counted since `started_at`."""
        return self._frames

    @property
    def last_frame_at(self) -> float:
        """When the last frame came (seconds since the epoch), 0 before the first."""
        return self._last_frame_at

    # -- reading -------------------------------------------------------------------

    def stats(self) -> media_pb2.MediaStats:
        """The figures now, as the contract's `MediaStats`."""
        with self._lock:
            now = self._now()
            self._check_stall(now)
            self._sample(now)
            fps, bytes_per_s = self._rates(now)
            recent = self._latencies[-LATENCY_RECENT:]
            measured = bool(self._latencies)
            out = media_pb2.MediaStats(
                connection_id=self.connection_id,
                side=self.side,
                measured_at=_timestamp(now),
                started_at=_timestamp(self._started_at),
                frames=self._frames,
                bytes=self._bytes,
                fps=round(fps, 1),
                bitrate_kbps=round(bytes_per_s * 8 / 1000, 1),
                stalls=self._stalls,
                frames_dropped=self._dropped,
                width=self.width,
                height=self.height,
                codec=self.codec,
                latency_ms=round(_percentile(recent, 50), 1) if measured else 0.0,
                latency_p95_ms=round(_percentile(self._latencies, 95), 1) if measured else 0.0,
                latency_source=self._latency_source if measured else LatencySource.UNSPECIFIED,
                restarts=self._restarts,
            )
            if self._first_frame_at:
                out.first_frame_at.CopyFrom(_timestamp(self._first_frame_at))
            if self._last_frame_at:
                out.last_frame_at.CopyFrom(_timestamp(self._last_frame_at))
            return out

    # -- inside (the lock held) ------------------------------------------------------

    def _grown(self, key: str, total: int) -> int:
        total = max(0, int(total))
        last = self._external[key]
        self._external[key] = total
        return total - last if total >= last else total

    def _count(self, now: float, count: int, nbytes: int) -> None:
        if count > 0:
            self._check_stall(now)
            if not self._first_frame_at:
                self._first_frame_at = now
            self._last_frame_at = now
            self._in_gap = False
            self._frames += int(count)
        self._bytes += max(0, int(nbytes))
        self._sample(now)

    def _check_stall(self, now: float) -> None:
        """A gap that reached the stall length counts once."""
        if self._last_frame_at and not self._in_gap and now - self._last_frame_at >= self._stall_gap:
            self._stalls += 1
            self._in_gap = True

    def _sample(self, now: float) -> None:
        samples = self._samples
        if samples and len(samples) > 1 and now - samples[-1][0] < SAMPLE_S:
            samples[-1][1], samples[-1][2] = self._frames, self._bytes
        else:
            samples.append([now, self._frames, self._bytes])
        # Keep the newest sample older than the window: the base of the rates.
        while len(samples) > 2 and now - samples[1][0] >= self._window:
            del samples[0]

    def _rates(self, now: float):
        base = self._samples[0]
        span = now - base[0]
        if span < 0.2:
            return 0.0, 0.0
        return (self._frames - base[1]) / span, (self._bytes - base[2]) / span

