"""The relay of an existing RTSP camera: the camera module serves it again on its own
RTSP server, without decoding (gst-rtsp-server's URI factory parses the camera's streams
and payloads them again). Why relay rather than hand out the camera's URL: its password
stays in the camera module (a URL with credentials would be stored in every flow and
shown by the API), the camera sees one client however many flows watch it (many allow
only one or two), and every camera looks the same to converters.
"""
import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gst, GstRtspServer  # noqa: E402

import rtsp_server  # noqa: E402


RELAY_LATENCY_MS = 200
VIDEO_PAYLOADERS = ("rtph264pay", "rtph265pay", "rtpjpegpay")
AUDIO_PAYLOADERS = ("rtpmp4gpay", "rtpmp4apay", "rtppcmupay", "rtppcmapay", "rtpopuspay")


def configure_relay(media_element, on_video_frame=None, on_audio_frame=None) -> None:
    """Gives the camera's RTSP source a 200 ms jitter buffer instead of rtspsrc's 2 s
    (over TCP nothing arrives out of order: the buffer is only latency), and calls
    `on_video_frame(pad, info)` (a pad probe) for each video frame the relay payloads again,
    `on_audio_frame` for each audio frame.
    The elements appear as the camera's streams are found, hence the signal."""

    def added(_bin, _sub_bin, element):
        factory = element.get_factory()
        name = factory.get_name() if factory else ""
        if name == "rtspsrc":
            element.set_property("latency", RELAY_LATENCY_MS)
        elif name in VIDEO_PAYLOADERS and on_video_frame is not None:
            element.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, on_video_frame)
        elif name in AUDIO_PAYLOADERS and on_audio_frame is not None:
            element.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, on_audio_frame)

    media_element.connect("deep-element-added", added)


def relay_factory(uri: str, protected: bool = False):
    """A media factory that plays `uri` (credentials in it) and serves it again."""
    factory = GstRtspServer.RTSPMediaFactoryURI()
    # rtspt:// makes GStreamer read the camera over TCP (no UDP ports through firewalls,
    # no lost packets on Wi-Fi).
    factory.set_uri("rtspt://" + uri[len("rtsp://"):] if uri.startswith("rtsp://") else uri)
    factory.set_shared(True)
    if protected:
        rtsp_server.allow_viewers(factory)
    return factory
