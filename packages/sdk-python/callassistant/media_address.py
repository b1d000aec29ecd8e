"""Where a media module serves, from the environment every media module reads (README,
"Media addresses"). The camera, ffmpeg-converter and webrtc-bridge modules share it:
`from callassistant.media_address import read_media_address`.

    CA_MEDIA_HOST  the host written in every media URL (default 127.0.0.1). Set it to the
                   machine's LAN address or name so a TV can fetch the media.
    CA_MEDIA_BIND  the address to listen on (default 127.0.0.1 when the host is a loopback
                   one, else 0.0.0.0: every interface)
    <port variable> the module's port; its default may be a fixed port (taken: a free one
                   is used and logged); 0 always picks a free one
"""
import ipaddress
import os
import re
from dataclasses import dataclass


@dataclass
class MediaAddress:
    """Host for URLs, address to bind, port, and whether another port may be used."""

    host: str
    bind: str
    port: int
    fallback: bool

    def url_host(self) -> str:
        """The host as written in a URL (an IPv6 address in brackets)."""
        return f"[{self.host}]" if ":" in self.host else self.host


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_media_address(port_variable: str, default_port: int, environ=None) -> MediaAddress:
    """Reads the settings; ValueError naming the variable when one is malformed."""
    env = os.environ if environ is None else environ
    host = env.get("CA_MEDIA_HOST", "").strip() or "127.0.0.1"
    if not re.fullmatch(r"[A-Za-z0-9.:-]+", host):
        raise ValueError(f"CA_MEDIA_HOST: expected an IP address or host name, got {host!r}")
    bind = env.get("CA_MEDIA_BIND", "").strip() or ("127.0.0.1" if is_loopback(host)
                                                    else "0.0.0.0")
    raw = env.get(port_variable, "").strip()
    try:
        port = default_port if raw == "" else int(raw)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise ValueError(f"{port_variable}: expected a port number (0 for any), got {raw!r}")
    return MediaAddress(host, bind, port, fallback=raw == "" and default_port != 0)
