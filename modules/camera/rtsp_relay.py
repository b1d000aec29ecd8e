"""The relay of an existing RTSP camera: the camera module serves it again on its own
RTSP server, without decoding (gst-rtsp-server's URI factory parses the camera's streams
and payloads them again). Why relay rather than hand out the camera's URL: its password
stays in the camera module (a URL with credentials would be stored in every flow and
shown by the API), the camera sees one client however many flows watch it (many allow
only one or two), and every camera looks the same to converters.
"""
import gi

gi.require_version("GstRtspServer", "1.0")
from gi.repository import GstRtspServer  # noqa: E402

import rtsp_server  # noqa: E402


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
