"""Reading a WHEP offer before aiortc does: which video codecs it offers (so an offer
without H.264 gets a clear refusal instead of a connection that never shows a frame),
and which ICE candidates to keep."""
import ipaddress


class OfferError(Exception):
    """An offer this bridge cannot answer; `status` is the HTTP status to send."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def offered_codecs(sdp: str) -> dict:
    """{"video": [...codec names...], "audio": [...]} in the offer's order."""
    codecs = {}
    kind = None
    for line in sdp.splitlines():
        if line.startswith("m="):
            kind = line[2:].split(" ", 1)[0]
            codecs.setdefault(kind, [])
        elif line.startswith("a=rtpmap:") and kind:
            name = line.split(" ", 1)[1].split("/", 1)[0] if " " in line else ""
            if name and name not in codecs[kind]:
                codecs[kind].append(name)
    return codecs


def check_offer(sdp: str) -> dict:
    """The offered codecs; OfferError when the offer has no video or no H.264."""
    if not sdp.strip().startswith("v=0"):
        raise OfferError(400, "the body is not an SDP offer (it must start with v=0)")
    codecs = offered_codecs(sdp)
    if "video" not in codecs:
        raise OfferError(422, "the offer has no video section (m=video); add a video "
                         "transceiver (recvonly)")
    if not any(c.upper() == "H264" for c in codecs["video"]):
        offered = ", ".join(c for c in codecs["video"] if c.lower() not in ("rtx", "red",
                                                                             "ulpfec")) or "none"
        raise OfferError(422, f"the offer has no H.264 video (it offers: {offered}); this "
                         "bridge forwards the camera's H.264 without transcoding")
    return codecs


def keep_candidates(sdp: str, allowed: set) -> str:
    """The SDP with only the `a=candidate` lines whose address is in `allowed` (an empty
    set keeps all). mDNS names (*.local) are dropped too when `allowed` is set: resolving
    them would send multicast queries to the network."""
    if not allowed:
        return sdp
    out = []
    for line in sdp.split("\r\n") if "\r\n" in sdp else sdp.split("\n"):
        if line.startswith("a=candidate:"):
            parts = line.split()
            if len(parts) < 5 or parts[4] not in allowed:
                continue
        out.append(line)
    return ("\r\n" if "\r\n" in sdp else "\n").join(out)


def is_ip(host: str) -> bool:
    """True for an IPv4 or IPv6 literal."""
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False
