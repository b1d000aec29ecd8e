"""camera: real H.264 cameras over RTSP, on the Python SDK.

Entity types:
- `test_pattern`: a live H.264 + AAC stream made here with GStreamer (moving ball, clock,
  frame counter, pixel clock for glass-to-glass latency), served on
  rtsp://$CA_MEDIA_HOST:$CA_CAMERA_RTSP_PORT/<entity id>.
- `rtsp_camera`: an existing camera by URL, user and password; probed on create (its
  real codecs become its formats) and relayed on the same server, so its password never
  leaves this module. An unreachable camera is FAILED with the reason and probed again
  with backoff.

The camera is always the sending side, and its media is pulled: asked to connect with no
address, it answers its RTSP URL.
"""
import asyncio
import datetime
import sys
import time

import callassistant as ca
from callassistant.media_address import read_media_address
import camera_config
import rtsp_server
from camera_sources import FROZEN_S, RtspCameraEntity, TestPatternEntity

DEFAULT_RTSP_PORT = 8554
REPORT_EVERY_S = 2.0
VIDEO_H264 = ca.fmt("video", "rtsp", "h264")
AUDIO_AAC = ca.fmt("audio", "rtsp", "aac")
TYPES = {"test_pattern": TestPatternEntity, "rtsp_camera": RtspCameraEntity}


def utc(seconds: float) -> datetime.datetime:
    """A wall-clock time in seconds as an aware datetime (a Timestamp for the SDK)."""
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)


def failed(message: str):
    """A FAILED_PRECONDITION error."""
    return ca.RpcError(ca.Code.FAILED_PRECONDITION, message)


def format_key(f: dict) -> str:
    """"video/rtsp/h264" of a format dict."""
    return f"{f['media_type']}/{f['protocol']}/{f['codec']}"


class Camera(ca.Module):
    name, version = "camera", "0.1.0"
    description = "Cameras over RTSP: a GStreamer test pattern, and existing RTSP cameras"
    capabilities = [
        ca.capability(
            "test_pattern", ca.EntityKind.SOURCE, outputs=[VIDEO_H264, AUDIO_AAC],
            description="A live H.264 + AAC test pattern with a clock, a frame counter and a "
            "pixel clock for latency", config_schema=camera_config.TEST_PATTERN_SCHEMA),
        ca.capability(
            "rtsp_camera", ca.EntityKind.SOURCE,
            outputs=[VIDEO_H264, ca.fmt("video", "rtsp", "h265"), AUDIO_AAC,
                     ca.fmt("audio", "rtsp", "pcmu"), ca.fmt("audio", "rtsp", "pcma")],
            description="An existing RTSP camera; its real codecs are probed on create",
            config_schema=camera_config.RTSP_CAMERA_SCHEMA),
    ]

    def __init__(self):
        self.address = read_media_address("CA_CAMERA_RTSP_PORT", DEFAULT_RTSP_PORT)
        try:
            self.server = rtsp_server.RtspServer(self.address.bind, self.address.port)
        except OSError as err:
            if not self.address.fallback:
                raise
            self.server = rtsp_server.RtspServer(self.address.bind, 0)
            print(f"<4>RTSP port {self.address.port} is taken ({err}); serving on "
                  f"{self.server.port}", file=sys.stderr, flush=True)
        self.entities = {}  # id -> CameraEntity
        self.connections = {}  # connection id -> {flow_id, entity_id, format}
        self.flows = {}  # flow id -> {"running": bool, "quality": QualityProfile}
        # MediaStats: SENT on every connection, from the stream's payloaders.
        self.media = ca.FlowMeters(self, refresh=self._count_media)

    async def on_start(self):
        self.log.info("RTSP server listening", url=f"rtsp://{self.address.url_host()}:"
                      f"{self.server.port}/<entity id>")
        asyncio.get_running_loop().create_task(self._report_periodically())
        asyncio.get_running_loop().create_task(self._watch_frozen())

    async def on_shutdown(self, reason):
        self.media.close()
        for entity in list(self.entities.values()):
            await entity.close()
        self.server.close()

    # -- entities ---------------------------------------------------------------------

    def find(self, entity_id: str):
        if entity_id not in self.entities:
            raise ca.RpcError(ca.Code.NOT_FOUND, f'no camera "{entity_id}" on this module')
        return self.entities[entity_id]

    def status(self, entity) -> dict:
        state = entity.state
        if state == ca.EntityState.READY and self.is_active(entity.id):
            state = ca.EntityState.ACTIVE
        out = {"entity_id": entity.id, "state": state, "message": entity.message,
               "metrics": entity.metrics()}
        formats = entity.probed_formats()
        if formats:
            out["formats"] = formats
        return out

    def entity(self, entity) -> dict:
        status = self.status(entity)
        return {
            "id": entity.id, "entity_type": entity.entity_type, "kind": ca.EntityKind.SOURCE,
            "module": self.env.module_name or self.name, "name": entity.name,
            "state": status["state"], "configuration": entity.config,
            "origin": ca.EntityOrigin.CREATED, "status": status,
            "created_at": utc(entity.created_at), "updated_at": utc(entity.updated_at),
        }

    def on_entity_change(self, entity, event: str, message: str, severity: str) -> None:
        if entity.id not in self.entities:
            return
        self.events.status(entities=[self.status(entity)])
        if event:
            self.events.report(event, message, entity_id=entity.id, severity=severity,
                               data={"formats": [format_key(f) for f in entity.formats]})

    def parse(self, entity_type: str, configuration) -> dict:
        raw = ca.from_struct(configuration)
        if entity_type == "test_pattern":
            return camera_config.parse_test_pattern(raw)
        return camera_config.parse_rtsp_camera(raw)

    async def create_entity(self, req, ctx):
        if req.entity_type not in TYPES:
            raise ca.RpcError(ca.Code.INVALID_ARGUMENT, f'unknown entity type "{req.entity_type}";'
                              f" this module provides: {', '.join(TYPES)}")
        if not req.entity_id:
            raise ca.RpcError(ca.Code.INVALID_ARGUMENT, "entity_id is required")
        config = self.parse(req.entity_type, req.configuration)
        if req.entity_id not in self.entities:  # the same id again is the same camera
            await self._add(req.entity_id, req.entity_type, req.name, config)
        return {"entity": self.entity(self.entities[req.entity_id])}

    async def _add(self, entity_id, entity_type, name, config):
        cls = TYPES[entity_type]
        entity = cls(entity_id, name, config, self.server, self.address, self.on_entity_change)
        self.entities[entity_id] = entity
        try:
            await entity.start()
        except Exception:
            del self.entities[entity_id]
            raise
        self.log.info("camera created", entity_id=entity_id, type=entity_type, url=entity.url)

    async def configure_entity(self, req, ctx):
        entity = self.find(req.entity_id)
        config = self.parse(entity.entity_type, req.configuration)
        await entity.close()
        del self.entities[entity.id]
        await self._add(entity.id, entity.entity_type, entity.name, config)
        return {"entity": self.entity(self.entities[entity.id])}

    def get_entity_status(self, req, ctx):
        return {"status": self.status(self.find(req.entity_id))}

    async def destroy_entity(self, req, ctx):
        entity = self.find(req.entity_id)
        del self.entities[entity.id]
        await entity.close()
        for cid in [c for c, v in self.connections.items() if v["entity_id"] == entity.id]:
            del self.connections[cid]
            self.media.forget(connection_id=cid)

    def list_entities(self, req, ctx):
        return {"entities": [self.entity(e) for e in self.entities.values()]}

    # -- flows: a camera only sends, and its stream is pulled --------------------------

    def is_active(self, entity_id: str) -> bool:
        return any(c["entity_id"] == entity_id and self.flows.get(c["flow_id"], {}).get("running")
                   for c in self.connections.values())

    def connect_entities(self, req, ctx):
        if not req.connection_id or not req.flow_id:
            raise ca.RpcError(ca.Code.INVALID_ARGUMENT, "connection_id and flow_id are required")
        if req.role != ca.ConnectionRole.SENDER:
            raise failed(f'camera "{req.target_entity_id}" only sends media')
        entity = self.find(req.source_entity_id)
        wanted = ca.format_name(req.format)
        if not entity.formats:
            raise failed(f'camera "{entity.id}" has no known stream yet: {entity.message}')
        offered = [format_key(f) for f in entity.formats]
        if wanted not in offered:
            raise failed(f'camera "{entity.id}" sends {" and ".join(offered)}, not {wanted}')
        if getattr(entity, "protected", False):
            raise failed(f'test pattern "{entity.id}" asks for a user and password (it stands in '
                         "for a protected camera): play it through an rtsp_camera entity")
        if req.address:
            # A receiver that wants media pushed (a simulated device) gets the URL anyway.
            self.log.warn("the receiver gave a push address; this camera is fetched",
                          receiver_address=req.address, url=entity.url)
        self.connections[req.connection_id] = {
            "flow_id": req.flow_id, "entity_id": entity.id, "format": wanted,
            "media": "video" if req.format.media_type == ca.MediaType.VIDEO else "audio"}
        self.media.meter(req.flow_id, req.connection_id, ca.MediaSide.SENT,
                         codec=req.format.codec.lower())
        return {"address": entity.url, "connection": {
            "id": req.connection_id, "flow_id": req.flow_id,
            "source_entity_id": req.source_entity_id, "target_entity_id": req.target_entity_id,
            "format": req.format, "address": entity.url}}

    def disconnect_entities(self, req, ctx):
        self.media.forget(req.flow_id, req.connection_id)
        self.connections.pop(req.connection_id, None)
        if not any(c["flow_id"] == req.flow_id for c in self.connections.values()):
            self.flows.pop(req.flow_id, None)

    def flow_status(self, flow_id: str) -> dict:
        flow = self.flows.get(flow_id)
        mine = [c for c in self.connections.values() if c["flow_id"] == flow_id]
        if not mine and not flow:
            raise ca.RpcError(ca.Code.NOT_FOUND, f'flow "{flow_id}" has no connection here')
        running = bool(flow and flow["running"])
        entity = self.entities.get(mine[0]["entity_id"]) if mine else None
        state = ca.FlowState.ACTIVE if running else ca.FlowState.STOPPED
        message = "connected, not started"
        if running and entity:
            message = f"{entity.id} served on {entity.url}"
            if entity.state == ca.EntityState.FAILED:
                state, message = ca.FlowState.DEGRADED, entity.message
        out = {"flow_id": flow_id, "state": state, "message": message,
               "metrics": entity.metrics() if entity and running else {}}
        if running:
            out["media"] = self.media.stats(flow_id)
        if flow and flow.get("quality") is not None:
            out["quality"] = flow["quality"]
        return out

    def start_flow(self, req, ctx):
        mine = {c for c, v in self.connections.items() if v["flow_id"] == req.flow_id}
        unknown = [c for c in req.connection_ids if c not in mine]
        if not mine or unknown:
            raise failed(f'flow "{req.flow_id}": unknown connection(s) '
                         f"{', '.join(unknown or req.connection_ids) or '(none given)'} on this "
                         "module: connect them first")
        self.flows[req.flow_id] = {"running": True, "quality": self.applied_quality(req.flow_id,
                                                                                    req.quality)}
        self.media.start(req.flow_id)
        for meter in self.media.meters(req.flow_id):
            # The stream is shared: what it sent before is other flows'.
            meter.baseline(*self._totals(meter))
        return {"status": self.flow_status(req.flow_id)}

    def stop_flow(self, req, ctx):
        self.media.stop(req.flow_id)
        if req.flow_id in self.flows:
            self.flows[req.flow_id]["running"] = False

    def get_flow_status(self, req, ctx):
        return {"status": self.flow_status(req.flow_id)}

    def _served_afresh(self, entity, why: str) -> None:
        self.log.warn("camera served afresh", entity_id=entity.id, reason=why)
        self.events.report("camera.restarted", f'camera "{entity.id}": its RTSP sessions were '
                           f"closed and its stream served afresh ({why})", entity_id=entity.id,
                           severity="warning")

    async def _watch_frozen(self):
        """Serves afresh, by itself, a camera whose readers get no frame (camera_sources,
        `frozen`): recovery in ~3 s, whoever reads it, flow or not."""
        while True:
            await asyncio.sleep(1.0)
            now = time.time()
            for entity in list(self.entities.values()):
                if entity.frozen(now) and entity.serve_afresh():
                    self._served_afresh(entity, f"readers connected, no frame for "
                                                f"{FROZEN_S:g} s")

    def reestablish_connection(self, req, ctx):
        """Serves the connection's camera afresh: every RTSP session on its path is closed,
        so its readers (converter, bridge) connect again to a new media. What the flow
        watchdog asks of a camera whose readers get no frame: gst-rtsp-server's shared
        media can freeze for every reader at once (a reader leaving as another joins)."""
        c = ca.asked_connection(self.connections, req)
        entity = self.entities.get(c["entity_id"])
        if not entity or not entity.serve_afresh():
            raise failed(f'camera "{c["entity_id"]}" serves no stream now: '
                         f"{entity.message if entity else 'it is gone'}")
        self._served_afresh(entity, req.reason or "asked by the orchestrator")
        return {"message": f'camera "{entity.id}": every RTSP session closed, its stream served '
                           "afresh; readers connect again"}

    def _totals(self, meter) -> tuple:
        c = self.connections.get(meter.connection_id)
        entity = self.entities.get(c["entity_id"]) if c else None
        return entity.counter.totals(c["media"]) if entity else (0, 0)

    def _count_media(self) -> None:
        """Copies the streams' payloader counts into the meters of started flows."""
        for flow_id in [f for f, v in self.flows.items() if v["running"]]:
            for meter in self.media.meters(flow_id):
                meter.totals(*self._totals(meter))
                c = self.connections.get(meter.connection_id)
                entity = self.entities.get(c["entity_id"]) if c else None
                if entity and c["media"] == "video":
                    meter.size(*entity.picture())

    def applied_quality(self, flow_id: str, asked) -> dict:
        """What the camera really sends: its own settings, whatever the flow asked for."""
        mine = [c for c in self.connections.values() if c["flow_id"] == flow_id]
        entity = self.entities.get(mine[0]["entity_id"]) if mine else None
        quality = {"preset": asked.preset if asked else 0}
        if isinstance(entity, TestPatternEntity):
            w, h = camera_config.RESOLUTIONS[entity.config["resolution"]]
            quality.update(width=w, height=h, framerate=entity.config["fps"],
                           max_bitrate_kbps=entity.config["bitrate_kbps"])
        return quality

    def adjust_quality(self, req, ctx):
        flow = self.flows.get(req.flow_id)
        if not flow:
            raise ca.RpcError(ca.Code.NOT_FOUND, f'flow "{req.flow_id}" is not started here')
        flow["quality"] = self.applied_quality(req.flow_id, req.quality)
        self.events.status(flows=[self.flow_status(req.flow_id)])
        return {"quality": flow["quality"]}

    async def _report_periodically(self):
        """Live figures of running flows and their cameras, every 2 s."""
        while True:
            await asyncio.sleep(REPORT_EVERY_S)
            running = [f for f, v in self.flows.items() if v["running"]]
            if not running:
                continue
            ids = {c["entity_id"] for c in self.connections.values() if c["flow_id"] in running}
            self.events.status(flows=[self.flow_status(f) for f in running],
                               entities=[self.status(self.entities[i]) for i in ids
                                         if i in self.entities])


if __name__ == "__main__":
    ca.run(Camera())
