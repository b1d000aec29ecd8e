"""webrtc-bridge: RTSP H.264 to WebRTC without transcoding (aiortc), signalled by WHEP,
on the Python SDK.

Entity type `rtsp_to_webrtc` (made by flows): pulls the camera's RTSP (it answers no
address as a receiver, then is told the camera's URL) and answers, as a sender, its WHEP
endpoint http://$CA_MEDIA_HOST:$CA_BRIDGE_HTTP_PORT/whep/<entity id>, where any WHEP
player (the web-screen page) POSTs an SDP offer. H.264 is forced in the answer; an offer
without H.264 gets a 422 naming what it offered. Audio (AAC, PCMU, PCMA, Opus) becomes
Opus, the only transcode.
"""
import asyncio
import datetime
import sys
import time

import callassistant as ca
from callassistant.media_address import read_media_address
from whep_server import WhepServer

REPORT_EVERY_S = 2.0
FRESH_FRAME_S = 3.0


def transform(media, in_codec, out_codec, cpu, latency_ms):
    """A transform dict for ca.capability."""
    return {"input": ca.fmt(media, "rtsp", in_codec), "output": ca.fmt(media, "webrtc", out_codec),
            "cost": {"cpu": cpu, "latency_ms": latency_ms, "quality_loss": 0.0}}


# Video is forwarded as it is (aiortc packetizes it); audio is decoded and Opus-encoded.
# CPU relative to ffmpeg's HLS remux (1): 1.7 measured at 720p25 (deno task bench).
TRANSFORMS = [
    transform("video", "h264", "h264", 1.7, 100),
    transform("audio", "aac", "opus", 1, 100),
    transform("audio", "pcmu", "opus", 1, 100),
    transform("audio", "pcma", "opus", 1, 100),
    transform("audio", "opus", "opus", 1, 100),
]


def utc(seconds: float) -> datetime.datetime:
    """A wall-clock time in seconds as an aware datetime (a Timestamp for the SDK)."""
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)


def failed(message: str):
    """A FAILED_PRECONDITION error."""
    return ca.RpcError(ca.Code.FAILED_PRECONDITION, message)


class Bridge(ca.Module):
    name, version = "webrtc-bridge", "0.1.0"
    description = "RTSP H.264 to WebRTC without transcoding (aiortc), WHEP signalling"
    capabilities = [
        ca.capability("rtsp_to_webrtc", ca.EntityKind.CONVERTER, transforms=TRANSFORMS,
                      description="Forwards a camera's H.264 to WHEP players (audio to Opus)"),
    ]

    def __init__(self):
        self.address = read_media_address("CA_BRIDGE_HTTP_PORT", 0)
        # Bound (and aioice told which host candidates to offer) before any call comes.
        self.server = WhepServer(self.address.bind, self.address.port, self.address.host)
        self.entities = {}  # id -> {"name", "created_at"}
        self.connections = {}  # id -> {"flow_id", "entity_id", "role", "media", "url"}
        self.flows = {}  # id -> {"running", "quality"}
        # MediaStats of video: RECEIVED from the RTSP input, SENT as RTP to the viewers.
        self.media = ca.FlowMeters(self, refresh=self._count_media)

    async def on_start(self):
        await self.server.start()
        self.log.info("WHEP served", url=f"http://{self.address.url_host()}:{self.server.port}"
                      "/whep/<entity id>", loopback_only=bool(self.server.remote_filter))
        asyncio.get_running_loop().create_task(self._report_periodically())

    async def on_shutdown(self, reason):
        self.media.close()
        await self.server.close()

    def find(self, entity_id: str) -> dict:
        if entity_id not in self.entities:
            raise ca.RpcError(ca.Code.NOT_FOUND, f'no bridge "{entity_id}" on this module')
        return self.entities[entity_id]

    def output(self, entity_id: str):
        return self.server.add(entity_id, lambda what, msg: self._input_event(entity_id, what,
                                                                             msg))

    # -- figures ----------------------------------------------------------------------

    def figures(self, entity_id: str) -> dict:
        """Metrics (EntityStatus/FlowStatus keys) and the input's figures."""
        f = self.output(entity_id).figures()
        i, sessions = f["input"], f["sessions"]
        metrics = {
            "frames": float(i["frames"]),
            "fps": float(i["fps"]),
            "sessions": float(len(sessions)),
            "frames_sent": float(sum(s["frames"] for s in sessions)),
            "bitrate_kbps": round(sum(s["bitrate_kbps"] for s in sessions), 1),
            "reconnects": float(i["reconnects"]),
        }
        if i["width"]:
            metrics.update(width=i["width"], height=i["height"])
        if i["last_frame_at"]:
            metrics["last_frame_unix_ms"] = round(i["last_frame_at"] * 1000)
            metrics["last_frame_age_ms"] = round((time.time() - i["last_frame_at"]) * 1000)
        return {"metrics": metrics, "input": i, "sessions": sessions}

    def judge(self, entity_id: str):
        """(FlowState, message) of a running bridge."""
        f = self.figures(entity_id)
        i = f["input"]
        fresh = i["last_frame_at"] and time.time() - i["last_frame_at"] < FRESH_FRAME_S
        url = self.server.url(entity_id)
        if i["state"] == "playing" and fresh:
            return ca.FlowState.ACTIVE, (f"{len(f['sessions'])} viewer(s) on {url}; input "
                                         f"{i['video_codec']} {i['width']}x{i['height']}")
        if i["state"] in ("connecting", "playing") and not i["reconnects"]:
            return ca.FlowState.ACTIVE, f"opening {i['url']}"
        return ca.FlowState.DEGRADED, f"RTSP input {i['state']}: {i['last_error'] or 'no frame'}"

    def entity_status(self, entity_id: str) -> dict:
        running = self.running(entity_id)
        state, message = ca.EntityState.READY, f"idle; WHEP at {self.server.url(entity_id)}"
        if running:
            flow_state, message = self.judge(entity_id)
            state = (ca.EntityState.ACTIVE if flow_state == ca.FlowState.ACTIVE
                     else ca.EntityState.DEGRADED)
        return {"entity_id": entity_id, "state": state, "message": message,
                "metrics": self.figures(entity_id)["metrics"]}

    def running(self, entity_id: str) -> bool:
        return any(c["entity_id"] == entity_id and self.flows.get(c["flow_id"], {}).get("running")
                   for c in self.connections.values())

    def _input_event(self, entity_id: str, what: str, message: str) -> None:
        if what == "retrying":
            for meter in self._meters_of(entity_id, ca.MediaSide.RECEIVED):
                meter.restarted()
        self.log.warn("bridge " + what, entity_id=entity_id, reason=message)
        self.events.report(f"bridge.{what}", f'bridge "{entity_id}": {message}',
                           entity_id=entity_id, severity="warning")

    # -- entities ---------------------------------------------------------------------

    def entity(self, entity_id: str) -> dict:
        e = self.entities[entity_id]
        status = self.entity_status(entity_id)
        return {"id": entity_id, "entity_type": "rtsp_to_webrtc",
                "kind": ca.EntityKind.CONVERTER, "module": self.env.module_name or self.name,
                "name": e["name"], "state": status["state"], "configuration": {},
                "origin": ca.EntityOrigin.CREATED, "status": status,
                "created_at": utc(e["created_at"]), "updated_at": utc(e["created_at"])}

    def create_entity(self, req, ctx):
        if req.entity_type != "rtsp_to_webrtc":
            raise ca.RpcError(ca.Code.INVALID_ARGUMENT, f'unknown entity type "{req.entity_type}";'
                              " this module provides: rtsp_to_webrtc")
        if not req.entity_id:
            raise ca.RpcError(ca.Code.INVALID_ARGUMENT, "entity_id is required")
        if ca.from_struct(req.configuration):
            raise ca.RpcError(ca.Code.INVALID_ARGUMENT, "configuration: rtsp_to_webrtc takes none")
        if req.entity_id not in self.entities:
            self.entities[req.entity_id] = {"name": req.name, "created_at": time.time()}
            self.output(req.entity_id)
        return {"entity": self.entity(req.entity_id)}

    def configure_entity(self, req, ctx):
        self.find(req.entity_id)
        if ca.from_struct(req.configuration):
            raise ca.RpcError(ca.Code.INVALID_ARGUMENT, "configuration: rtsp_to_webrtc takes none")
        return {"entity": self.entity(req.entity_id)}

    def get_entity_status(self, req, ctx):
        self.find(req.entity_id)
        return {"status": self.entity_status(req.entity_id)}

    async def destroy_entity(self, req, ctx):
        self.find(req.entity_id)
        del self.entities[req.entity_id]
        await self.server.remove(req.entity_id)
        for cid in [c for c, v in self.connections.items() if v["entity_id"] == req.entity_id]:
            del self.connections[cid]
            self.media.forget(connection_id=cid)

    def list_entities(self, req, ctx):
        return {"entities": [self.entity(i) for i in self.entities]}

    # -- flows ------------------------------------------------------------------------

    def connect_entities(self, req, ctx):
        if not req.connection_id or not req.flow_id:
            raise ca.RpcError(ca.Code.INVALID_ARGUMENT, "connection_id and flow_id are required")
        receiving = req.role == ca.ConnectionRole.RECEIVER
        if req.role not in (ca.ConnectionRole.RECEIVER, ca.ConnectionRole.SENDER):
            raise ca.RpcError(ca.Code.INVALID_ARGUMENT, "role must be RECEIVER or SENDER")
        entity_id = req.target_entity_id if receiving else req.source_entity_id
        self.find(entity_id)
        side = "input" if receiving else "output"
        wanted = ca.format_name(req.format)
        takes = sorted({ca.format_name(t[side]) for t in TRANSFORMS})
        if wanted not in takes:
            raise failed(f'bridge "{entity_id}" {"takes" if receiving else "gives"} '
                         f"{', '.join(takes)}, not {wanted}")
        whep = self.server.url(entity_id)
        if receiving:
            if req.address and not req.address.startswith("rtsp://"):
                raise failed(f'bridge "{entity_id}" pulls RTSP; got address {req.address!r}')
            url = req.address
            if url and req.format.media_type == ca.MediaType.VIDEO:
                self.output(entity_id).set_input(url)
        else:
            if req.address:
                # A receiver that wants media pushed (a simulated call endpoint): it is
                # served the same way, by WHEP.
                self.log.warn("the receiver gave a push address; this bridge is fetched by "
                              "WHEP", receiver_address=req.address, url=whep)
            url = whep
        self.connections[req.connection_id] = {
            "flow_id": req.flow_id, "entity_id": entity_id, "role": req.role, "url": url}
        if req.format.media_type == ca.MediaType.VIDEO:
            side = ca.MediaSide.RECEIVED if receiving else ca.MediaSide.SENT
            self.media.meter(req.flow_id, req.connection_id, side, codec="h264")
        return {"address": "" if receiving else url, "connection": {
            "id": req.connection_id, "flow_id": req.flow_id,
            "source_entity_id": req.source_entity_id, "target_entity_id": req.target_entity_id,
            "format": req.format, "address": url}}

    async def disconnect_entities(self, req, ctx):
        self.media.forget(req.flow_id, req.connection_id)
        c = self.connections.pop(req.connection_id, None)
        if c and not any(v["entity_id"] == c["entity_id"] for v in self.connections.values()):
            self.output(c["entity_id"]).stop_input()
        if not any(v["flow_id"] == req.flow_id for v in self.connections.values()):
            self.flows.pop(req.flow_id, None)

    def _entities_of(self, flow_id: str) -> list:
        return sorted({c["entity_id"] for c in self.connections.values()
                       if c["flow_id"] == flow_id and c["entity_id"] in self.entities})

    def start_flow(self, req, ctx):
        mine = {c for c, v in self.connections.items() if v["flow_id"] == req.flow_id}
        unknown = [c for c in req.connection_ids if c not in mine]
        if not mine or unknown:
            raise failed(f'flow "{req.flow_id}": unknown connection(s) '
                         f"{', '.join(unknown or req.connection_ids) or '(none given)'} on this "
                         "module: connect them first")
        for entity_id in self._entities_of(req.flow_id):
            output = self.output(entity_id)
            if output.source is None:
                raise failed(f'bridge "{entity_id}" has no RTSP input: connect its video first')
            output.start()
        self.flows[req.flow_id] = {"running": True, "quality": ca.resolve_quality(req.quality)}
        self.media.start(req.flow_id)
        for meter in self.media.meters(req.flow_id):
            meter.baseline(*self._totals(meter))  # counting from now
        return {"status": self.flow_status(req.flow_id)}

    def stop_flow(self, req, ctx):
        self.media.stop(req.flow_id)
        flow = self.flows.get(req.flow_id)
        if flow:
            flow["running"] = False
        for entity_id in self._entities_of(req.flow_id):
            self.output(entity_id).stop_input()

    def flow_status(self, flow_id: str) -> dict:
        ids = self._entities_of(flow_id)
        flow = self.flows.get(flow_id)
        if not ids and not flow:
            raise ca.RpcError(ca.Code.NOT_FOUND, f'flow "{flow_id}" has no connection here')
        out = {"flow_id": flow_id, "state": ca.FlowState.STOPPED,
               "message": "connected, not started", "metrics": {}}
        if flow and flow.get("quality") is not None:
            out["quality"] = flow["quality"]
        if flow and flow["running"] and ids:
            out["state"], out["message"] = self.judge(ids[0])
            out["metrics"] = self.figures(ids[0])["metrics"]
            out["media"] = self.media.stats(flow_id)
        return out

    def get_flow_status(self, req, ctx):
        return {"status": self.flow_status(req.flow_id)}

    def adjust_quality(self, req, ctx):
        flow = self.flows.get(req.flow_id)
        if not flow:
            raise ca.RpcError(ca.Code.NOT_FOUND, f'flow "{req.flow_id}" is not started here')
        # Forwarded without transcoding: the camera's quality is what viewers get.
        flow["quality"] = ca.resolve_quality(req.quality)
        self.events.status(flows=[self.flow_status(req.flow_id)])
        return {"quality": flow["quality"]}

    def reestablish_connection(self, req, ctx):
        """Opens the bridge's RTSP input again at once; viewers stay connected and get the
        frames of the new input."""
        c = ca.asked_connection(self.connections, req)
        if not self.flows.get(req.flow_id, {}).get("running") or c["entity_id"] not in self.entities:
            raise failed(f'flow "{req.flow_id}" is not started on this module: nothing to '
                         "restart")
        output = self.output(c["entity_id"])
        self.log.warn("re-establishing", entity_id=c["entity_id"],
                      connection_id=req.connection_id, reason=req.reason or "asked")
        if not output.reopen():
            raise failed(f'bridge "{c["entity_id"]}" has no RTSP input to reopen')
        for meter in self._meters_of(c["entity_id"], ca.MediaSide.RECEIVED):
            meter.restarted()
        return {"message": f'RTSP input {output.source.url} of bridge "{c["entity_id"]}" '
                           "reopened; viewers kept"}

    # -- media stats ----------------------------------------------------------------------

    def _meters_of(self, entity_id: str, side: int) -> list:
        flows = {c["flow_id"] for c in self.connections.values() if c["entity_id"] == entity_id}
        return [m for f in flows for m in self.media.meters(f) if m.side == side
                and self.connections.get(m.connection_id, {}).get("entity_id") == entity_id]

    def _totals(self, meter) -> tuple:
        """(frames, bytes, dropped) of the meter's side of its bridge."""
        c = self.connections.get(meter.connection_id)
        if not c or c["entity_id"] not in self.entities:
            return 0, 0, 0
        output = self.output(c["entity_id"])
        if meter.side == ca.MediaSide.SENT:
            return output.sent_totals()
        s = output.source
        return (s.frames, s.bytes, 0) if s else (0, 0, 0)

    def _count_media(self) -> None:
        """Copies the input's and the viewers' counts into the meters of started flows."""
        for flow_id in [f for f, v in self.flows.items() if v["running"]]:
            for meter in self.media.meters(flow_id):
                frames, nbytes, dropped = self._totals(meter)
                meter.totals(frames, nbytes)
                meter.dropped_total(dropped)
                c = self.connections.get(meter.connection_id)
                s = self.output(c["entity_id"]).source if c else None
                if s and s.width:
                    meter.size(s.width, s.height)

    async def _report_periodically(self):
        while True:
            await asyncio.sleep(REPORT_EVERY_S)
            running = [f for f, v in self.flows.items() if v["running"]]
            if not running:
                continue
            ids = {i for f in running for i in self._entities_of(f)}
            self.events.status(flows=[self.flow_status(f) for f in running],
                               entities=[self.entity_status(i) for i in sorted(ids)])


if __name__ == "__main__":
    try:
        module = Bridge()
    except (ValueError, OSError) as err:
        print(f"<3>{err}", file=sys.stderr)
        sys.exit(2)
    ca.run(module)
