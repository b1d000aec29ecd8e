"""One bridge entity: an RTSP input and the WebRTC viewers (WHEP sessions) watching it.

Each viewer gets its own RTCPeerConnection with H.264 forced before the offer is
applied (aiortc would otherwise answer the browser's first codec, VP8, and send
nothing it can decode), fed from the shared RtspSource without transcoding.
"""
import asyncio
import time
import uuid

from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription

import sdp_offer
from relay_tracks import AudioRelayTrack, VideoRelayTrack
from rtsp_source import RtspSource

CONNECT_TIMEOUT = 15.0  # a session whose ICE does not connect in time is closed


def h264_codecs() -> list:
    """aiortc's H.264 codecs (and RTX) in its order: the only video codecs we answer."""
    return [c for c in RTCRtpSender.getCapabilities("video").codecs
            if c.mimeType.lower() in ("video/h264", "video/rtx")]


class WhepSession:
    """One viewer."""

    def __init__(self, pc: RTCPeerConnection, video: VideoRelayTrack, audio):
        self.id = uuid.uuid4().hex[:16]
        self.pc = pc
        self.video = video
        self.audio = audio
        self.created_at = time.time()
        self.remote = ""
        self._samples = []  # (monotonic, bytes)

    def figures(self) -> dict:
        """Frames and bitrate sent to this viewer, and the connection's state."""
        now = time.monotonic()
        self._samples = [s for s in self._samples if now - s[0] <= 3.0]
        self._samples.append((now, self.video.bytes))
        first, last = self._samples[0], self._samples[-1]
        span = last[0] - first[0]
        bitrate = (last[1] - first[1]) * 8 / 1000 / span if span >= 0.5 else 0.0
        return {
            "session": self.id,
            "state": self.pc.connectionState,
            "frames": self.video.frames,
            "bytes": self.video.bytes,
            "bitrate_kbps": round(bitrate, 1),
            "last_frame_at": self.video.last_frame_at,
            "first_frame_ms": int((self.video.first_frame_at - self.created_at) * 1000)
            if self.video.first_frame_at else 0,
            "audio_frames": self.audio.frames if self.audio else 0,
            "remote": self.remote,
        }


class BridgeOutput:
    """An RTSP input served to WebRTC viewers."""

    def __init__(self, entity_id: str, remote_filter: set, on_event=None):
        self.entity_id = entity_id
        self.remote_filter = remote_filter
        self._on_event = on_event or (lambda kind, message: None)
        self.source = None
        self.sessions: dict = {}
        self.closed_sessions = 0
        # What ended sessions were sent (video frames, bytes, dropped): the sent totals
        # keep growing when viewers come and go.
        self._closed_sent = [0, 0, 0]

    def set_input(self, url: str) -> None:
        """Reads from `url` (replacing another input; viewers of the old one are closed)."""
        if self.source and self.source.url == url:
            return
        self.stop_input()
        self.source = RtspSource(url, asyncio.get_running_loop(), self._on_event)

    def start(self) -> None:
        """Starts reading the input."""
        if self.source:
            self.source.start()

    def reopen(self) -> bool:
        """Opens the input again at once, with the same URL and viewers (a reader stuck on
        a silent camera is left to end at its next read); False when there is no input."""
        old = self.source
        if old is None:
            return False
        new = RtspSource(old.url, asyncio.get_running_loop(), self._on_event)
        new.take_subscribers(old)
        new.reconnects = old.reconnects + 1
        old.stop()
        self.source = new
        new.start()
        return True

    def sent_totals(self) -> tuple:
        """(frames, bytes, dropped) of video sent to every viewer, ended ones included."""
        frames, nbytes, dropped = self._closed_sent
        for s in self.sessions.values():
            frames += s.video.frames
            nbytes += s.video.bytes
            dropped += s.video.dropped
        return frames, nbytes, dropped

    def stop_input(self) -> None:
        """Stops reading; viewers stay connected (they see no frames) until closed."""
        if self.source:
            self.source.stop()

    async def close(self) -> None:
        """Stops the input and closes every viewer."""
        self.stop_input()
        for session_id in list(self.sessions):
            await self.end(session_id)
        self.source = None

    async def answer(self, offer_sdp: str, remote: str = "") -> tuple:
        """Answers a WHEP offer: (session id, answer SDP). Raises OfferError (4xx/503)."""
        codecs = sdp_offer.check_offer(offer_sdp)
        source = self.source
        if source is None or source.state == "stopped":
            raise sdp_offer.OfferError(503, "this bridge has no running input yet: start a "
                                       "flow to it first")
        if source.state != "playing":
            why = f" ({source.last_error})" if source.last_error else ""
            raise sdp_offer.OfferError(503, f"the camera is not sending yet: {source.state}"
                                       f"{why}")
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))  # no STUN: no traffic out
        video = VideoRelayTrack()
        audio = AudioRelayTrack() if source.audio_codec and "audio" in codecs and any(
            c.lower() == "opus" for c in codecs["audio"]) else None
        pc.addTransceiver(video, direction="sendonly").setCodecPreferences(h264_codecs())
        if audio:
            pc.addTransceiver(audio, direction="sendonly")
        session = WhepSession(pc, video, audio)
        session.remote = remote
        try:
            offer = sdp_offer.keep_candidates(offer_sdp, self.remote_filter)
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception as err:
            await pc.close()
            raise sdp_offer.OfferError(400, f"cannot answer this offer: {err}") from err
        source.subscribe(video)
        if audio:
            source.subscribe(audio)
        self.sessions[session.id] = session

        @pc.on("connectionstatechange")
        async def _state():
            if pc.connectionState in ("failed", "closed"):
                await self.end(session.id)

        asyncio.get_running_loop().call_later(
            CONNECT_TIMEOUT, lambda: asyncio.ensure_future(self._expire(session.id)))
        return session.id, pc.localDescription.sdp

    async def _expire(self, session_id: str) -> None:
        session = self.sessions.get(session_id)
        if session and session.pc.connectionState not in ("connected",):
            self._on_event("session_expired", f"viewer {session_id} did not connect within "
                           f"{CONNECT_TIMEOUT:g} s")
            await self.end(session_id)

    async def end(self, session_id: str) -> bool:
        """Closes a viewer; False when there is no such session."""
        session = self.sessions.pop(session_id, None)
        if not session:
            return False
        self.closed_sessions += 1
        self._closed_sent[0] += session.video.frames
        self._closed_sent[1] += session.video.bytes
        self._closed_sent[2] += session.video.dropped
        if self.source:
            self.source.unsubscribe(session.video)
            if session.audio:
                self.source.unsubscribe(session.audio)
        session.video.stop()
        if session.audio:
            session.audio.stop()
        await session.pc.close()
        return True

    def figures(self) -> dict:
        """The input's figures and every viewer's."""
        s = self.source
        return {
            "input": {
                "url": s.url if s else "",
                "state": s.state if s else "stopped",
                "video_codec": s.video_codec if s else "",
                "audio_codec": s.audio_codec if s else "",
                "width": s.width if s else 0,
                "height": s.height if s else 0,
                "frames": s.frames if s else 0,
                "bytes": s.bytes if s else 0,
                "fps": s.fps() if s else 0.0,
                "last_frame_at": s.last_frame_at if s else 0.0,
                "reconnects": s.reconnects if s else 0,
                "last_error": s.last_error if s else "",
            },
            "sessions": [x.figures() for x in self.sessions.values()],
        }
