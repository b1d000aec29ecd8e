"""One test-pattern encoder feeding a small pipeline per RTSP reader.

gst-rtsp-server's shared media sends every reader's packets from the encoder's own thread,
so one reader that stalls (leaving, joining, slow) can freeze the stream for all of them.
Here the encoder runs in a pipeline of its own and hands each encoded frame to every
reader's pipeline through a leaky `appsrc` (a full one drops, never blocks): a reader can
only stall itself. The encoder runs while at least one reader does; a reader that joins
asks it for a key frame, so its picture starts at once.
"""
import threading

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstVideo", "1.0")
from gi.repository import Gst, GstVideo  # noqa: E402

# A reader's queue: ~2 s of frames; beyond, its oldest are dropped (leaky) for it alone.
READER_QUEUE_BUFFERS = 50


def reader_description(video_pay: str, audio_pay: str = "") -> str:
    """The gst-launch description of a reader's media: appsrc "vsrc" (and "asrc") ->
    `video_pay` (and `audio_pay`)."""
    src = ("appsrc name={name} is-live=true format=time do-timestamp=true "
           f"max-buffers={READER_QUEUE_BUFFERS} leaky-type=downstream")
    video = f"{src.format(name='vsrc')} ! {video_pay}"
    if not audio_pay:
        return f"( {video} )"
    return f"( {video} {src.format(name='asrc')} ! {audio_pay} )"


class PatternFanout:
    """The encoder pipeline (`encoder_description`, ending in appsinks named "video" and
    "audio") and the readers' appsrcs it feeds. `on_first` runs when the encoder is built
    (to connect the overlay and the counters)."""

    def __init__(self, encoder_description: str, on_first=None):
        self._description = encoder_description
        self._on_first = on_first
        self._lock = threading.Lock()
        self._readers = {}  # media -> {"video": appsrc, "audio": appsrc or None}
        self._pipeline = None
        self._caps = {}  # "video"/"audio" -> the encoder's caps, once known

    def add(self, media) -> None:
        """A reader's media configured: fed from now on; starts the encoder if needed."""
        element = media.get_element()
        srcs = {"video": element.get_by_name("vsrc"), "audio": element.get_by_name("asrc")}
        with self._lock:
            for kind, src in srcs.items():
                if src is not None and kind in self._caps:
                    src.set_property("caps", self._caps[kind])
            self._readers[media] = srcs
            if self._pipeline is None:
                self._start()
            else:
                self._key_frame()
        media.connect("unprepared", self._remove)

    def _remove(self, media) -> None:
        with self._lock:
            self._readers.pop(media, None)
            if not self._readers and self._pipeline is not None:
                pipeline, self._pipeline = self._pipeline, None
                pipeline.set_state(Gst.State.NULL)

    def _start(self) -> None:
        pipeline = Gst.parse_launch(self._description)
        for kind in ("video", "audio"):
            sink = pipeline.get_by_name(kind)
            if sink is not None:
                sink.set_property("emit-signals", True)
                sink.connect("new-sample", self._on_sample, kind)
        if self._on_first:
            self._on_first(pipeline)
        self._pipeline = pipeline
        pipeline.set_state(Gst.State.PLAYING)

    def _key_frame(self) -> None:
        encoder = self._pipeline.get_by_name("encoder")
        if encoder is not None:
            encoder.send_event(GstVideo.video_event_new_upstream_force_key_unit(
                Gst.CLOCK_TIME_NONE, True, 0))

    def _on_sample(self, sink, kind: str):
        sample = sink.emit("pull-sample")
        if sample is None:
            return Gst.FlowReturn.OK
        caps = sample.get_caps()
        with self._lock:
            srcs = [s[kind] for s in self._readers.values() if s[kind] is not None]
            if self._caps.get(kind) is None or not self._caps[kind].is_equal(caps):
                self._caps[kind] = caps
                for src in srcs:
                    src.set_property("caps", caps)
        for src in srcs:
            # Each reader times the frame by its own clock (do-timestamp).
            buffer = sample.get_buffer().copy()
            buffer.pts = buffer.dts = Gst.CLOCK_TIME_NONE
            src.emit("push-buffer", buffer)
        return Gst.FlowReturn.OK
