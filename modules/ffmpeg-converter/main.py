"""ffmpeg-converter: one supervised ffmpeg per converter entity, on the Python SDK.

Entity types (made by flows as they need them):
- `rtsp_to_hls`: RTSP H.264 -> HLS H.264 by remux (`-c copy`, cheap); H.265 is
  transcoded (dear); audio AAC is copied, PCMU/PCMA/Opus become AAC.
- `rtsp_to_mjpeg`: RTSP H.264/H.265 -> MJPEG (a transcode: decode and JPEG-encode every
  frame), sized and paced by the flow's quality.

Its HLS and MJPEG are served over its own HTTP port (CA_CONVERTER_HTTP_PORT, default a
free one). As a receiver it pulls (answers no address, then is told the camera's RTSP
URL); as a sender it answers where its output is fetched. ffmpeg is restarted when it
exits or stops producing (SIGSTOP included); figures come from its `-progress` output.
After a crash, the conversions that ran start again at once (`resume.py`).
"""
if __name__ == "__main__":
    # First thing, before the imports below (~0.3 s of Python): the ffmpegs a crash
    # stopped start again now, while the module loads, registers and is asked for them.
    import os as _os

    from resume import Resume
    RESUME = Resume(_os.environ.get("MODULE_DATA_DIR", ""))
    RESUME.start_saved()

import asyncio  # noqa: E402
import datetime  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import callassistant as ca  # noqa: E402
from callassistant.media_address import read_media_address  # noqa: E402
from conversion import Conversion, remove_stale_directories  # noqa: E402
from media_server import MediaServer  # noqa: E402
from resume import CLAIM_S, Resume  # noqa: E402

REPORT_EVERY_S = 2.0
FRESH_FRAME_S = 3.0  # a running conversion whose last frame is older is DEGRADED


def stall_seconds() -> float:
    """How long ffmpeg may go without a new frame before the converter restarts it by
    itself: CA_CONVERTER_STALL_S, 3 s by default (tests that watch the orchestrator's own
    watchdog set it longer)."""
    raw = os.environ.get("CA_CONVERTER_STALL_S", "").strip()
    if not raw:
        return 3.0
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not 0.5 <= value <= 3600:
        raise ValueError(f"CA_CONVERTER_STALL_S: expected seconds from 0.5 to 3600, got {raw!r}")
    return value

MJPEG_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "jpeg_quality": {"type": "integer", "minimum": 2, "maximum": 31, "default": 5,
                         "description": "JPEG qscale: 2 best, 31 worst"},
    },
}


def transform(media, in_protocol, in_codec, out_protocol, out_codec, cpu, latency_ms, loss=0.0):
    """A transform dict for ca.capability."""
    return {"input": ca.fmt(media, in_protocol, in_codec),
            "output": ca.fmt(media, out_protocol, out_codec),
            "cost": {"cpu": cpu, "latency_ms": latency_ms, "quality_loss": loss}}


# Costs: cpu is relative to the HLS remux (1), from `deno task bench --only media` on a
# 2-core machine at 720p25 (remux 6.4 % of a core, MJPEG transcode 13.7 %, the WebRTC
# bridge 11.1 %; an H.265 transcode to H.264 is an x264 encode, about the camera's 23 %);
# latency is what the pixel clock measured (HLS ~2.1 s, MJPEG ~260 ms).
HLS_TRANSFORMS = [
    transform("video", "rtsp", "h264", "hls", "h264", 1, 2000),
    transform("video", "rtsp", "h265", "hls", "h264", 5, 2200, 0.05),
    transform("audio", "rtsp", "aac", "hls", "aac", 0.2, 2000),
    transform("audio", "rtsp", "pcmu", "hls", "aac", 0.5, 2000),
    transform("audio", "rtsp", "pcma", "hls", "aac", 0.5, 2000),
    transform("audio", "rtsp", "opus", "hls", "aac", 0.5, 2000),
]
MJPEG_TRANSFORMS = [
    transform("video", "rtsp", "h264", "mjpeg", "mjpeg", 2.2, 150, 0.15),
    transform("video", "rtsp", "h265", "mjpeg", "mjpeg", 3, 150, 0.15),
]
KINDS = {"rtsp_to_hls": ("hls", HLS_TRANSFORMS), "rtsp_to_mjpeg": ("mjpeg", MJPEG_TRANSFORMS)}


def utc(seconds: float) -> datetime.datetime:
    """A wall-clock time in seconds as an aware datetime (a Timestamp for the SDK)."""
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)


def failed(message: str):
    """A FAILED_PRECONDITION error."""
    return ca.RpcError(ca.Code.FAILED_PRECONDITION, message)


class Converter(ca.Module):
    name, version = "ffmpeg-converter", "0.1.0"
    description = "ffmpeg: RTSP to HLS (remux) and to MJPEG (transcode), served over HTTP"
    capabilities = [
        ca.capability("rtsp_to_hls", ca.EntityKind.CONVERTER, transforms=HLS_TRANSFORMS,
                      description="RTSP H.264 to HLS by remux (H.265 transcoded)"),
        ca.capability("rtsp_to_mjpeg", ca.EntityKind.CONVERTER, transforms=MJPEG_TRANSFORMS,
                      description="RTSP H.264/H.265 to MJPEG (a transcode)",
                      config_schema=MJPEG_SCHEMA),
    ]

    def __init__(self, resume: Resume = None):
        self.resume = resume or Resume("")
        self.address = read_media_address("CA_CONVERTER_HTTP_PORT", 0)
        self.server = MediaServer(self.address.bind, self.address.port, self.address.host)
        self.entities = {}  # id -> {"type", "name", "config", "conversion", "created_at"}
        # connection id -> {"flow_id", "entity_id", "role", "format" (dict), "url"}
        self.connections = {}
        self.flows = {}  # flow id -> {"running": bool, "quality": dict}
        self.stall_timeout = stall_seconds()
        # MediaStats of every connection: RECEIVED on inputs, SENT on outputs (video only:
        # ffmpeg's progress counts video frames).
        self.media = ca.FlowMeters(self, refresh=self._count_media)

    async def on_start(self):
        remove_stale_directories()
        await self.server.start()
        self.log.info("media served", url=f"http://{self.address.url_host()}:{self.server.port}/")
        loop = asyncio.get_running_loop()
        loop.create_task(self._report_periodically())
        if self.resume.started:
            self.log.info("conversions resumed after a crash, until the orchestrator asks "
                          "for them again", entity_ids=",".join(sorted(self.resume.started)))
            loop.call_later(CLAIM_S, self._drop_unclaimed)
        self._log_resume_problems()

    def _drop_unclaimed(self) -> None:
        dropped = self.resume.drop_unclaimed()
        if dropped:
            self.log.info(f"resumed conversions not asked for within {CLAIM_S:g} s stopped",
                          entity_ids=",".join(dropped))
        self._log_resume_problems()

    def _log_resume_problems(self) -> None:
        for problem in self.resume.take_problems():
            self.log.warn(problem)

    async def on_shutdown(self, reason):
        self.resume.drop_unclaimed()  # resumed and never asked for: killed, files removed
        self.media.close()
        for e in self.entities.values():
            await e["conversion"].close()
        await self.server.close()

    # -- entities ---------------------------------------------------------------------

    def find(self, entity_id: str) -> dict:
        if entity_id not in self.entities:
            raise ca.RpcError(ca.Code.NOT_FOUND, f'no converter "{entity_id}" on this module')
        return self.entities[entity_id]

    def entity_status(self, entity_id: str) -> dict:
        e = self.entities[entity_id]
        conv = e["conversion"]
        figures = conv.figures()
        state, message = ca.EntityState.READY, f"idle; output {conv.url}"
        if conv.running:
            state, message = self._judge(figures, conv)
            state = {ca.FlowState.ACTIVE: ca.EntityState.ACTIVE,
                     ca.FlowState.DEGRADED: ca.EntityState.DEGRADED}.get(state, state)
        return {"entity_id": entity_id, "state": state, "message": message,
                "metrics": self._metrics(figures)}

    @staticmethod
    def _metrics(f: dict) -> dict:
        out = {k: float(f[k]) for k in ("frames", "fps", "bitrate_kbps", "restarts", "requests",
                                           "clients") if isinstance(f.get(k), (int, float))}
        if f.get("last_frame_at"):
            out["last_frame_unix_ms"] = round(f["last_frame_at"] * 1000)
            out["last_frame_age_ms"] = round((time.time() - f["last_frame_at"]) * 1000)
        return out

    @staticmethod
    def _judge(figures: dict, conv: Conversion):
        """(FlowState, message) of a running conversion from ffmpeg's figures."""
        last = figures.get("last_frame_at") or 0
        fresh = last and time.time() - last < FRESH_FRAME_S
        job = figures.get("state")
        if fresh and job == "running":
            return ca.FlowState.ACTIVE, (f"{conv.kind} {figures['fps']:g} fps "
                                         f"{figures['bitrate_kbps']:g} kbit/s at {conv.url}")
        why = figures.get("last_error") or "waiting for the first frame"
        if job == "starting" and not figures.get("restarts"):
            return ca.FlowState.ACTIVE, f"starting ffmpeg on {conv.input_url}"
        return ca.FlowState.DEGRADED, f"ffmpeg {job}: {why}"

    def entity(self, entity_id: str) -> dict:
        e = self.entities[entity_id]
        status = self.entity_status(entity_id)
        return {"id": entity_id, "entity_type": e["type"], "kind": ca.EntityKind.CONVERTER,
                "module": self.env.module_name or self.name, "name": e["name"],
                "state": status["state"], "configuration": e["config"],
                "origin": ca.EntityOrigin.CREATED, "status": status,
                "created_at": utc(e["created_at"]), "updated_at": utc(e["created_at"])}

    def parse(self, entity_type: str, configuration) -> dict:
        raw = ca.from_struct(configuration)
        allowed = list(MJPEG_SCHEMA["properties"]) if entity_type == "rtsp_to_mjpeg" else []
        for key in raw:
            if key not in allowed:
                raise ca.RpcError(ca.Code.INVALID_ARGUMENT, f'configuration: unknown field "{key}"'
                                  f" (allowed: {', '.join(allowed) or 'none'})")
        if entity_type == "rtsp_to_mjpeg":
            q = raw.get("jpeg_quality", 5)
            if isinstance(q, bool) or not isinstance(q, int) or not 2 <= q <= 31:
                raise ca.RpcError(ca.Code.INVALID_ARGUMENT, "configuration.jpeg_quality: expected "
                                  f"an integer from 2 to 31, got {q!r}")
            return {"jpeg_quality": q}
        return {}

    def create_entity(self, req, ctx):
        if req.entity_type not in KINDS:
            raise ca.RpcError(ca.Code.INVALID_ARGUMENT, f'unknown entity type "{req.entity_type}";'
                              f" this module provides: {', '.join(KINDS)}")
        if not req.entity_id:
            raise ca.RpcError(ca.Code.INVALID_ARGUMENT, "entity_id is required")
        config = self.parse(req.entity_type, req.configuration)
        if req.entity_id not in self.entities:
            kind = KINDS[req.entity_type][0]
            conversion = Conversion(req.entity_id, kind, self.server,
                                    lambda what, msg, i=req.entity_id: self._job_event(i, what, msg),
                                    stall_timeout=self.stall_timeout, resume=self.resume)
            self.entities[req.entity_id] = {"type": req.entity_type, "name": req.name,
                                            "config": config, "conversion": conversion,
                                            "created_at": time.time()}
        return {"entity": self.entity(req.entity_id)}

    def configure_entity(self, req, ctx):
        e = self.find(req.entity_id)
        e["config"] = self.parse(e["type"], req.configuration)
        return {"entity": self.entity(req.entity_id)}

    def get_entity_status(self, req, ctx):
        self.find(req.entity_id)
        return {"status": self.entity_status(req.entity_id)}

    async def destroy_entity(self, req, ctx):
        e = self.find(req.entity_id)
        del self.entities[req.entity_id]
        await e["conversion"].close()
        for cid in [c for c, v in self.connections.items() if v["entity_id"] == req.entity_id]:
            del self.connections[cid]
            self.media.forget(connection_id=cid)

    def list_entities(self, req, ctx):
        return {"entities": [self.entity(i) for i in self.entities]}

    def _job_event(self, entity_id: str, what: str, message: str) -> None:
        if what == "restarting":
            for meter in self._meters_of(entity_id):
                meter.restarted()
        if what in ("restarting", "stalled"):
            self.log.warn("ffmpeg " + what, entity_id=entity_id, reason=message)
            self.events.report(f"converter.{what}", f'converter "{entity_id}": {message}',
                               entity_id=entity_id, severity="warning")
            if entity_id in self.entities:
                self.events.status(entities=[self.entity_status(entity_id)])

    # -- flows ------------------------------------------------------------------------

    def connect_entities(self, req, ctx):
        if not req.connection_id or not req.flow_id:
            raise ca.RpcError(ca.Code.INVALID_ARGUMENT, "connection_id and flow_id are required")
        receiving = req.role == ca.ConnectionRole.RECEIVER
        if req.role not in (ca.ConnectionRole.RECEIVER, ca.ConnectionRole.SENDER):
            raise ca.RpcError(ca.Code.INVALID_ARGUMENT, "role must be RECEIVER or SENDER")
        entity_id = req.target_entity_id if receiving else req.source_entity_id
        e = self.find(entity_id)
        transforms = KINDS[e["type"]][1]
        side = "input" if receiving else "output"
        wanted = ca.format_name(req.format)
        takes = sorted({ca.format_name(t[side]) for t in transforms})
        if wanted not in takes:
            raise failed(f'converter "{entity_id}" ({e["type"]}) '
                         f"{'takes' if receiving else 'gives'} {', '.join(takes)}, not {wanted}")
        conv = e["conversion"]
        url = ""
        if receiving:
            if req.address and not req.address.startswith("rtsp://"):
                raise failed(f'converter "{entity_id}" pulls RTSP; got address {req.address!r}')
            url = req.address
        else:
            if req.address:
                # A receiver that wants media pushed (a simulated device): it is served the
                # same way, by URL.
                self.log.warn("the receiver gave a push address; this converter is fetched",
                              receiver_address=req.address, url=conv.url)
            url = conv.url
        self.connections[req.connection_id] = {
            "flow_id": req.flow_id, "entity_id": entity_id, "role": req.role,
            "media": "video" if req.format.media_type == ca.MediaType.VIDEO else "audio",
            "codec": req.format.codec.lower(), "url": url}
        if req.format.media_type == ca.MediaType.VIDEO:
            side = ca.MediaSide.RECEIVED if receiving else ca.MediaSide.SENT
            self.media.meter(req.flow_id, req.connection_id, side, codec=req.format.codec.lower())
        return {"address": "" if receiving else url, "connection": {
            "id": req.connection_id, "flow_id": req.flow_id,
            "source_entity_id": req.source_entity_id, "target_entity_id": req.target_entity_id,
            "format": req.format, "address": url}}

    async def disconnect_entities(self, req, ctx):
        self.media.forget(req.flow_id, req.connection_id)
        c = self.connections.pop(req.connection_id, None)
        if c and not any(v["entity_id"] == c["entity_id"] for v in self.connections.values()):
            e = self.entities.get(c["entity_id"])
            if e:
                await e["conversion"].stop_media()
        if not any(v["flow_id"] == req.flow_id for v in self.connections.values()):
            self.flows.pop(req.flow_id, None)

    def _entities_of(self, flow_id: str) -> list:
        return sorted({c["entity_id"] for c in self.connections.values()
                       if c["flow_id"] == flow_id and c["entity_id"] in self.entities})

    async def _start_conversion(self, entity_id: str, quality: dict) -> None:
        inputs = [c for c in self.connections.values()
                  if c["entity_id"] == entity_id and c["role"] == ca.ConnectionRole.RECEIVER]
        video = next((c for c in inputs if c["media"] == "video"), None)
        audio = next((c for c in inputs if c["media"] == "audio"), None)
        source = video or audio
        if not source or not source["url"]:
            raise failed(f'converter "{entity_id}" has no input address: connect its input first')
        e = self.entities[entity_id]
        # A frame rate is only a cap below 25 (a LOW preset): above, ffmpeg's fps filter
        # would duplicate the frames of a 25 fps camera.
        fps = quality.get("framerate", 0)
        settings = {"width": quality.get("width", 0), "height": quality.get("height", 0),
                    "fps": fps if 0 < fps < 25 else 0, **e["config"]}
        conversion = e["conversion"]
        await conversion.start(source["url"], video["codec"] if video else "h264",
                               audio["codec"] if audio else "", settings)
        if conversion.adopted:
            self.log.info("ffmpeg resumed after the crash taken over", entity_id=entity_id)
        self._log_resume_problems()

    async def start_flow(self, req, ctx):
        mine = {c for c, v in self.connections.items() if v["flow_id"] == req.flow_id}
        unknown = [c for c in req.connection_ids if c not in mine]
        if not mine or unknown:
            raise failed(f'flow "{req.flow_id}": unknown connection(s) '
                         f"{', '.join(unknown or req.connection_ids) or '(none given)'} on this "
                         "module: connect them first")
        quality = ca.resolve_quality(req.quality)
        q = {"width": quality.width, "height": quality.height, "framerate": quality.framerate}
        for entity_id in self._entities_of(req.flow_id):
            await self._start_conversion(entity_id, q)
        self.flows[req.flow_id] = {"running": True, "quality": quality}
        self.media.start(req.flow_id)
        for meter in self.media.meters(req.flow_id):
            # Counting from now: what the entity served before is another flow's.
            meter.baseline(*self._totals(meter))
        return {"status": self.flow_status(req.flow_id)}

    async def stop_flow(self, req, ctx):
        self.media.stop(req.flow_id)
        flow = self.flows.get(req.flow_id)
        if flow:
            flow["running"] = False
        for entity_id in self._entities_of(req.flow_id):
            await self.entities[entity_id]["conversion"].stop_media()

    def flow_status(self, flow_id: str) -> dict:
        ids = self._entities_of(flow_id)
        flow = self.flows.get(flow_id)
        if not ids and not flow:
            raise ca.RpcError(ca.Code.NOT_FOUND, f'flow "{flow_id}" has no connection here')
        out = {"flow_id": flow_id, "state": ca.FlowState.STOPPED,
               "message": "connected, not started", "metrics": {}}
        if flow and flow.get("quality") is not None:
            out["quality"] = flow["quality"]
        if not (flow and flow["running"]) or not ids:
            return out
        out["media"] = self.media.stats(flow_id)
        conv = self.entities[ids[0]]["conversion"]
        figures = conv.figures()
        out["state"], out["message"] = self._judge(figures, conv)
        out["metrics"] = self._metrics(figures)
        return out

    def get_flow_status(self, req, ctx):
        return {"status": self.flow_status(req.flow_id)}

    async def adjust_quality(self, req, ctx):
        flow = self.flows.get(req.flow_id)
        if not flow:
            raise ca.RpcError(ca.Code.NOT_FOUND, f'flow "{req.flow_id}" is not started here')
        quality = ca.resolve_quality(req.quality)
        flow["quality"] = quality
        q = {"width": quality.width, "height": quality.height, "framerate": quality.framerate}
        for entity_id in self._entities_of(req.flow_id):
            if self.entities[entity_id]["conversion"].kind == "mjpeg" and flow["running"]:
                await self._start_conversion(entity_id, q)  # HLS copies: nothing to change
        self.events.status(flows=[self.flow_status(req.flow_id)])
        return {"quality": quality}

    async def reestablish_connection(self, req, ctx):
        """Restarts the ffmpeg of the connection's converter at once (a stopped one is
        killed); its input and output URLs stay the same."""
        c = ca.asked_connection(self.connections, req)
        e = self.entities.get(c["entity_id"])
        if not self.flows.get(req.flow_id, {}).get("running") or not e or not e["conversion"].job:
            raise failed(f'flow "{req.flow_id}" is not started on this module: nothing to '
                         "restart")
        why = req.reason or "asked by the orchestrator"
        self.log.warn("re-establishing", entity_id=c["entity_id"], connection_id=req.connection_id,
                      reason=why)
        pid = await e["conversion"].job.restart(why)
        if not pid:
            return {"message": f'ffmpeg of converter "{c["entity_id"]}" was already restarting'}
        return {"message": f'ffmpeg (pid {pid}) killed and started again for converter '
                           f'"{c["entity_id"]}"'}

    # -- media stats ----------------------------------------------------------------------

    def _meters_of(self, entity_id: str) -> list:
        return [m for f in {c["flow_id"] for c in self.connections.values()
                            if c["entity_id"] == entity_id}
                for m in self.media.meters(f)
                if self.connections.get(m.connection_id, {}).get("entity_id") == entity_id]

    def _totals(self, meter) -> tuple:
        c = self.connections.get(meter.connection_id)
        e = self.entities.get(c["entity_id"]) if c else None
        if not e:
            return 0, 0
        side = "received" if meter.side == ca.MediaSide.RECEIVED else "sent"
        return e["conversion"].totals(side)

    def _count_media(self) -> None:
        """Copies ffmpeg's and the HTTP server's totals into the meters of started flows."""
        for flow_id in [f for f, v in self.flows.items() if v["running"]]:
            for meter in self.media.meters(flow_id):
                meter.totals(*self._totals(meter))

    async def _report_periodically(self):
        """Live figures of running flows and their converters, every 2 s."""
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
        module = Converter(RESUME)
    except (ValueError, OSError) as err:
        print(f"<3>{err}", file=sys.stderr)
        sys.exit(2)
    ca.run(module)
