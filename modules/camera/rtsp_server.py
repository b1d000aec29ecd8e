"""The camera module's RTSP server: one `gst-rtsp-server` serving every entity on its own
path (`rtsp://host:port/<entity id>`), test patterns and relays of existing cameras
alike. GStreamer runs in a GLib main loop on its own thread; every method here may be
called from any thread.

With a user and password every path asks for them (HTTP Basic, as most cameras do); the
module uses such a server for a test pattern configured with credentials.
"""
import threading

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

Gst.init(None)

VIEWER_ROLE = "viewer"


def allow_viewers(factory) -> None:
    """Lets authenticated viewers of a protected server play `factory`."""
    factory.add_role_from_structure(Gst.Structure.from_string(
        f"{VIEWER_ROLE}, media.factory.access=(boolean)true, "
        "media.factory.construct=(boolean)true")[0])


def _plays(session, path: str) -> bool:
    """True when an RTSP session has `/path` set up."""
    media, _matched = session.get_media(f"/{path}")
    return media is not None


def _ref_if(session, path: str):
    """A filter answer that collects the sessions on `/path`."""
    return (GstRtspServer.RTSPFilterResult.REF if _plays(session, path)
            else GstRtspServer.RTSPFilterResult.KEEP)


def _without_rate_control(_factory, media) -> None:
    """Sends each packet as it comes instead of at its clock time: the sources are live
    and paced by the clock already (see `RtspServer.add`)."""
    media.set_rate_control(False)


class RtspServer:
    """Serves media factories on paths; `port` is the bound port."""

    def __init__(self, bind: str = "127.0.0.1", port: int = 0, user: str = "",
                 password: str = ""):
        self._server = GstRtspServer.RTSPServer()
        self._server.set_address(bind)
        self._server.set_service(str(port))
        self.protected = bool(user or password)
        if self.protected:
            auth = GstRtspServer.RTSPAuth()
            token = GstRtspServer.RTSPToken()
            token.set_string("media.factory.role", VIEWER_ROLE)
            auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
            self._server.set_auth(auth)
        # One thread per client: a relay of a camera served here connects to this same
        # server, and with one thread preparing its media would wait for itself.
        self._server.get_thread_pool().set_max_threads(32)
        self._mounts = self._server.get_mount_points()
        self._context = GLib.MainContext.new()
        self._loop = GLib.MainLoop.new(self._context, False)
        self._paths = set()
        self._lock = threading.Lock()
        try:
            self._source_id = self._server.attach(self._context)
        except GLib.Error as err:
            raise OSError(f"cannot listen for RTSP on {bind}:{port}: {err.message}") from err
        if self._source_id == 0:
            raise OSError(f"cannot listen for RTSP on {bind}:{port} (address in use?)")
        self.port = self._server.get_bound_port()
        self._thread = threading.Thread(target=self._loop.run, name="gst-rtsp", daemon=True)
        self._thread.start()

    def add(self, path: str, factory) -> None:
        """Serves `factory` on `/path`, replacing what was there."""
        # TCP only (interleaved: the only transport our readers use, and no UDP ports to
        # open) and no rate control: with gst-rtsp-server's defaults the shared media froze
        # for every reader at once when a reader left as another joined (one join in 5-10
        # on this machine, the camera's threads waiting on the clock); with both changed,
        # 60 such joins in a row played on. A test pattern no longer shares one media between
        # readers (pattern_fanout.py); a relay does, and a stream that freezes all the same
        # is served afresh (camera_sources.py, `frozen`; and on ReestablishConnection).
        factory.set_protocols(GstRtsp.RTSPLowerTrans.TCP)
        factory.connect("media-configure", _without_rate_control)
        with self._lock:
            self._mounts.remove_factory(f"/{path}")
            self._mounts.add_factory(f"/{path}", factory)
            self._paths.add(path)

    def remove(self, path: str) -> None:
        """Stops serving `/path`: the connections of the clients playing it are closed (a
        reader sees its input end at once, not a silence), then their sessions."""
        with self._lock:
            self._mounts.remove_factory(f"/{path}")
            self._paths.discard(path)

        def close_client(_server, client):
            playing = client.session_filter(lambda _client, session: _ref_if(session, path))
            return (GstRtspServer.RTSPFilterResult.REMOVE if playing
                    else GstRtspServer.RTSPFilterResult.KEEP)

        self._server.client_filter(close_client)
        self._server.get_session_pool().filter(
            lambda _pool, session: GstRtspServer.RTSPFilterResult.REMOVE
            if _plays(session, path) else GstRtspServer.RTSPFilterResult.KEEP)

    def readers(self, path: str) -> int:
        """RTSP sessions on `/path` now."""
        return len(self._server.get_session_pool().filter(
            lambda _pool, session: _ref_if(session, path)))

    def clients(self) -> int:
        """RTSP sessions open now, over every path."""
        return self._server.get_session_pool().get_n_sessions()

    def close(self) -> None:
        """Stops serving and ends the GLib thread."""
        for path in list(self._paths):
            self.remove(path)
        self._loop.quit()
        self._thread.join(timeout=5)
