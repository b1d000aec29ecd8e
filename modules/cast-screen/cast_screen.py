"""cast-screen: simulated cast screens (Chromecast-like), written in Python.

It implements the module contract straight from the .proto files, with nothing but
Debian's python3-grpcio and python3-protobuf and stubs that start.sh generates with
protoc: ModuleService, EntityService and PipelineService on 127.0.0.1:$GRPC_PORT,
events and status reports to the orchestrator's EventService with the module token,
and an exit when standard input ends.

Run on another machine as a remote module (`address:` in the orchestrator's manifest),
it listens on $GRPC_HOST (default 127.0.0.1) and serves TLS with GRPC_TLS_CERT and
GRPC_TLS_KEY, mutual TLS with GRPC_TLS_CLIENT_CA as well.

A `cast_screen` entity is a SINK that plays HLS (H.264 video, AAC audio). The module
also "discovers" one screen on its own (CAST_SCREEN_DISCOVER, default "Living room TV";
empty for none): it lists it in ListEntities and announces it with an
`entities.changed` event. Playback is simulated, with metrics that follow the flow's
quality.
"""

import os
import random
import re
import signal
import stat
import sys
import threading
import time
from concurrent import futures

sys.path.insert(0, os.environ.get("CAST_SCREEN_GEN_DIR", os.path.join(os.path.dirname(__file__), ".cache", "python-gen")))

try:
    import grpc
    from google.protobuf import json_format, struct_pb2, timestamp_pb2
    from callassistant.v1 import (
        entity_pb2,
        entity_pb2_grpc,
        event_pb2,
        event_pb2_grpc,
        media_pb2,
        module_pb2,
        module_pb2_grpc,
        pipeline_pb2,
        pipeline_pb2_grpc,
        resources_pb2 as res,
    )
except ImportError as err:  # pragma: no cover - depends on the machine
    print(
        f"cast-screen: {err}; run it with start.sh and Debian's python3 "
        "(apt-get install -y python3-grpcio python3-protobuf protobuf-compiler protobuf-compiler-grpc)",
        file=sys.stderr,
    )
    sys.exit(3)

VERSION = "0.1.0"
ENTITY_TYPE = "cast_screen"
MODULE_NAME = os.environ.get("MODULE_NAME") or "cast-screen"
VIDEO, AUDIO = media_pb2.MEDIA_TYPE_VIDEO, media_pb2.MEDIA_TYPE_AUDIO
ACCEPTS = [
    media_pb2.MediaFormat(media_type=VIDEO, protocol="hls", codec="h264"),
    media_pb2.MediaFormat(media_type=AUDIO, protocol="hls", codec="aac"),
]
HLS_LATENCY_MS = 1800  # a player buffers a few segments

# What each quality preset means (AUTO and unset start at MEDIUM), as in the TypeScript SDK.
PRESETS = {
    res.QUALITY_PRESET_LOW: dict(max_bitrate_kbps=500, width=640, height=360, framerate=15, audio_bitrate_kbps=32),
    res.QUALITY_PRESET_MEDIUM: dict(max_bitrate_kbps=1500, width=1280, height=720, framerate=30, audio_bitrate_kbps=64),
    res.QUALITY_PRESET_HIGH: dict(max_bitrate_kbps=4000, width=1920, height=1080, framerate=30, audio_bitrate_kbps=128),
}
CONFIG_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "host": {"type": "string", "description": "IP address or host name of the device"},
        "volume": {"type": "integer", "minimum": 0, "maximum": 100, "default": 50},
    },
}


def log(message):
    print(f"cast-screen: {message}", file=sys.stderr, flush=True)


def fmt(f):
    media = {VIDEO: "video", AUDIO: "audio"}.get(f.media_type, f"media-{f.media_type}")
    return f"{media}/{f.protocol.lower()}/{f.codec.lower()}"


def struct(d):
    s = struct_pb2.Struct()
    s.update(d)
    return s


def now():
    t = timestamp_pb2.Timestamp()
    t.GetCurrentTime()
    return t


def resolve_quality(q):
    """The quality with every zero field taken from its preset."""
    preset = q.preset if q is not None else res.QUALITY_PRESET_UNSPECIFIED
    base = PRESETS.get(preset, PRESETS[res.QUALITY_PRESET_MEDIUM])
    out = res.QualityProfile(preset=preset)
    for field, value in base.items():
        setattr(out, field, (getattr(q, field) if q is not None else 0) or value)
    return out


class Reporter:
    """Sends events and status reports to the orchestrator in the background, in order."""

    def __init__(self):
        address = os.environ.get("ORCHESTRATOR_ADDRESS", "")
        self.metadata = [("authorization", "Bearer " + os.environ.get("MODULE_TOKEN", ""))]
        self.stub = event_pb2_grpc.EventServiceStub(grpc.insecure_channel(address)) if address else None
        self.pool = futures.ThreadPoolExecutor(max_workers=1)
        self.failing = False

    def _send(self, method, request):
        if self.stub is None:
            return
        try:
            getattr(self.stub, method)(request, metadata=self.metadata, timeout=5)
            if self.failing:
                log("reports to the orchestrator work again")
            self.failing = False
        except grpc.RpcError as err:
            if not self.failing:
                log(f"cannot report to the orchestrator: {err.code().name}: {err.details()}")
            self.failing = True

    def event(self, type_, message="", entity_id="", flow_id="", data=None):
        request = event_pb2.ReportEventRequest(
            type=type_, severity=res.SEVERITY_INFO, message=message, entity_id=entity_id, flow_id=flow_id,
            data=struct(data or {}),
        )
        self.pool.submit(self._send, "ReportEvent", request)

    def status(self, flows=(), entities=()):
        request = event_pb2.ReportStatusRequest(state=res.HEALTH_STATE_READY, flows=list(flows), entities=list(entities))
        self.pool.submit(self._send, "ReportStatus", request)

    def close(self):
        self.pool.shutdown(wait=False, cancel_futures=True)


class Screens:
    """Every screen, connection side and flow of this module. One lock guards them."""

    def __init__(self, reporter):
        self.lock = threading.RLock()
        self.reporter = reporter
        self.screens = {}  # id -> dict(name, config, origin, created)
        self.connections = {}  # connection id -> dict(connection, entity_id)
        self.flows = {}  # flow id -> dict(running, quality, started)

    # -- entities
    def parse_config(self, raw):
        unknown = [k for k in raw if k not in ("host", "volume")]
        if unknown:
            raise ValueError(f'configuration: unknown field "{unknown[0]}" (allowed: host, volume)')
        host = raw.get("host", "")
        if not isinstance(host, str) or (host and not re.fullmatch(r"[A-Za-z0-9.:-]+", host)):
            raise ValueError(f"configuration.host: expected an IP address or host name, got {host!r}")
        volume = raw.get("volume", 50)
        if isinstance(volume, float) and volume.is_integer():
            volume = int(volume)
        if not isinstance(volume, int) or isinstance(volume, bool) or not 0 <= volume <= 100:
            raise ValueError(f"configuration.volume: expected an integer from 0 to 100, got {volume!r}")
        return {"host": host, "volume": volume}

    def playing(self, entity_id):
        return any(
            c["entity_id"] == entity_id and self.flows.get(c["connection"].flow_id, {}).get("running")
            for c in self.connections.values()
        )

    def entity_status(self, entity_id):
        screen = self.screens[entity_id]
        playing = self.playing(entity_id)
        metrics = {"volume": float(screen["config"]["volume"])}
        if playing:
            flow_id = next(c["connection"].flow_id for c in self.connections.values() if c["entity_id"] == entity_id)
            metrics.update(self.metrics(self.flows[flow_id]["quality"]))
        return res.EntityStatus(
            entity_id=entity_id,
            state=res.ENTITY_STATE_ACTIVE if playing else res.ENTITY_STATE_READY,
            message="playing" if playing else "idle",
            metrics=metrics,
        )

    def entity(self, entity_id):
        s = self.screens[entity_id]
        status = self.entity_status(entity_id)
        return res.Entity(
            id=entity_id, entity_type=ENTITY_TYPE, kind=media_pb2.ENTITY_KIND_SINK, module=MODULE_NAME,
            name=s["name"], state=status.state, configuration=struct(s["config"]), origin=s["origin"],
            status=status, created_at=s["created"], updated_at=s["created"],
        )

    @staticmethod
    def metrics(quality):
        jitter = lambda spread: 1 + (random.random() - 0.5) * spread  # noqa: E731
        return {
            "bitrate_kbps": round(quality.max_bitrate_kbps * (0.92 + random.random() * 0.08), 1),
            "fps": round(quality.framerate * jitter(0.04), 1),
            "latency_ms": round(HLS_LATENCY_MS * jitter(0.1), 1),
            "width": float(quality.width),
            "height": float(quality.height),
            "audio_bitrate_kbps": float(quality.audio_bitrate_kbps),
        }

    # -- flows
    def flow_status(self, flow_id):
        flow = self.flows.get(flow_id)
        if flow is None and not any(c["connection"].flow_id == flow_id for c in self.connections.values()):
            return None
        running = bool(flow and flow["running"])
        quality = flow["quality"] if flow else resolve_quality(None)
        return res.FlowStatus(
            flow_id=flow_id,
            state=res.FLOW_STATE_ACTIVE if running else res.FLOW_STATE_STOPPED,
            message="playing" if running else "connected, not started",
            metrics=self.metrics(quality) if running else {},
            quality=quality,
        )

    def report_flow(self, flow_id):
        status = self.flow_status(flow_id)
        if status is not None:
            entities = {c["entity_id"] for c in self.connections.values() if c["connection"].flow_id == flow_id}
            self.reporter.status(flows=[status], entities=[self.entity_status(e) for e in entities if e in self.screens])


def abort(context, code, message):
    context.abort(code, message)


class ModuleService(module_pb2_grpc.ModuleServiceServicer):
    def __init__(self, stop):
        self.stop = stop

    def RegisterModule(self, request, context):
        return module_pb2.RegisterModuleResponse(
            info=res.ModuleInfo(
                name=MODULE_NAME, version=VERSION, description="Simulated cast screens",
                sdk=f"python-grpcio/{grpc.__version__}",
            ),
            capabilities=[media_pb2.EntityCapability(
                entity_type=ENTITY_TYPE, kind=media_pb2.ENTITY_KIND_SINK, inputs=ACCEPTS,
                description="A screen that plays HLS (H.264 video, AAC audio), like a Chromecast",
                config_schema=struct(CONFIG_SCHEMA),
            )],
        )

    def HealthCheck(self, request, context):
        return module_pb2.HealthCheckResponse(state=res.HEALTH_STATE_READY)

    def Configure(self, request, context):
        return module_pb2.ConfigureResponse(state=res.HEALTH_STATE_READY)

    def Shutdown(self, request, context):
        threading.Timer(0.05, self.stop.set).start()
        return module_pb2.ShutdownResponse()


class EntityService(entity_pb2_grpc.EntityServiceServicer):
    def __init__(self, screens):
        self.s = screens

    def _find(self, entity_id, context):
        if entity_id not in self.s.screens:
            abort(context, grpc.StatusCode.NOT_FOUND, f'no screen "{entity_id}" on this module')
        return self.s.screens[entity_id]

    def CreateEntity(self, request, context):
        if request.entity_type != ENTITY_TYPE:
            abort(context, grpc.StatusCode.INVALID_ARGUMENT,
                  f'unknown entity type "{request.entity_type}"; this module provides: {ENTITY_TYPE}')
        if not request.entity_id:
            abort(context, grpc.StatusCode.INVALID_ARGUMENT, "entity_id is required")
        try:
            config = self.s.parse_config(json_format.MessageToDict(request.configuration))
        except ValueError as err:
            abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(err))
        with self.s.lock:
            if request.entity_id not in self.s.screens:  # the same id again is the same screen
                self.s.screens[request.entity_id] = dict(
                    name=request.name, config=config, origin=res.ENTITY_ORIGIN_CREATED, created=now())
            return entity_pb2.CreateEntityResponse(entity=self.s.entity(request.entity_id))

    def ConfigureEntity(self, request, context):
        with self.s.lock:
            screen = self._find(request.entity_id, context)
            try:
                screen["config"] = self.s.parse_config(json_format.MessageToDict(request.configuration))
            except ValueError as err:
                abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(err))
            return entity_pb2.ConfigureEntityResponse(entity=self.s.entity(request.entity_id))

    def GetEntityStatus(self, request, context):
        with self.s.lock:
            self._find(request.entity_id, context)
            return entity_pb2.GetEntityStatusResponse(status=self.s.entity_status(request.entity_id))

    def DestroyEntity(self, request, context):
        with self.s.lock:
            self._find(request.entity_id, context)
            del self.s.screens[request.entity_id]
            for cid in [k for k, c in self.s.connections.items() if c["entity_id"] == request.entity_id]:
                del self.s.connections[cid]
            return entity_pb2.DestroyEntityResponse()

    def ListEntities(self, request, context):
        with self.s.lock:
            return entity_pb2.ListEntitiesResponse(entities=[self.s.entity(i) for i in sorted(self.s.screens)])


class PipelineService(pipeline_pb2_grpc.PipelineServiceServicer):
    """A screen only receives: it accepts the RECEIVER side of HLS H.264 and AAC links."""

    def __init__(self, screens):
        self.s = screens

    def ConnectEntities(self, request, context):
        if not request.connection_id or not request.flow_id or not request.HasField("format"):
            abort(context, grpc.StatusCode.INVALID_ARGUMENT, "connection_id, flow_id and format are required")
        with self.s.lock:
            if request.target_entity_id not in self.s.screens:
                abort(context, grpc.StatusCode.NOT_FOUND, f'no screen "{request.target_entity_id}" on this module')
            if request.role != res.CONNECTION_ROLE_RECEIVER:
                abort(context, grpc.StatusCode.FAILED_PRECONDITION,
                      f'screen "{request.target_entity_id}" only receives media')
            if fmt(request.format) not in [fmt(f) for f in ACCEPTS]:
                abort(context, grpc.StatusCode.FAILED_PRECONDITION,
                      f'screen "{request.target_entity_id}" plays only {" and ".join(fmt(f) for f in ACCEPTS)}, '
                      f"not {fmt(request.format)}")
            host = self.s.screens[request.target_entity_id]["config"]["host"] or "127.0.0.1"
            address = f"cast://{host}:8009/{request.target_entity_id}/{request.connection_id}"
            connection = res.Connection(
                id=request.connection_id, flow_id=request.flow_id, source_entity_id=request.source_entity_id,
                target_entity_id=request.target_entity_id, format=request.format, address=address,
            )
            self.s.connections[request.connection_id] = dict(connection=connection, entity_id=request.target_entity_id)
            return pipeline_pb2.ConnectEntitiesResponse(address=address, connection=connection)

    def DisconnectEntities(self, request, context):
        with self.s.lock:
            self.s.connections.pop(request.connection_id, None)
            if not any(c["connection"].flow_id == request.flow_id for c in self.s.connections.values()):
                self.s.flows.pop(request.flow_id, None)
            return pipeline_pb2.DisconnectEntitiesResponse()

    def StartFlow(self, request, context):
        with self.s.lock:
            mine = {cid for cid, c in self.s.connections.items() if c["connection"].flow_id == request.flow_id}
            unknown = [cid for cid in request.connection_ids if cid not in mine]
            if not mine or unknown:
                abort(context, grpc.StatusCode.FAILED_PRECONDITION,
                      f'flow "{request.flow_id}": unknown connection(s) {", ".join(unknown or request.connection_ids)}')
            quality = resolve_quality(request.quality if request.HasField("quality") else None)
            self.s.flows[request.flow_id] = dict(running=True, quality=quality, started=time.time())
            status = self.s.flow_status(request.flow_id)
        threading.Timer(0.01, self.s.report_flow, args=(request.flow_id,)).start()
        return pipeline_pb2.StartFlowResponse(status=status)

    def StopFlow(self, request, context):
        with self.s.lock:
            if request.flow_id in self.s.flows:
                self.s.flows[request.flow_id]["running"] = False
        threading.Timer(0.01, self.s.report_flow, args=(request.flow_id,)).start()
        return pipeline_pb2.StopFlowResponse()

    def GetFlowStatus(self, request, context):
        with self.s.lock:
            status = self.s.flow_status(request.flow_id)
        if status is None:
            abort(context, grpc.StatusCode.NOT_FOUND, f'flow "{request.flow_id}" has no connection on this module')
        return pipeline_pb2.GetFlowStatusResponse(status=status)

    def AdjustQuality(self, request, context):
        with self.s.lock:
            flow = self.s.flows.get(request.flow_id)
            if flow is None:
                abort(context, grpc.StatusCode.NOT_FOUND, f'flow "{request.flow_id}" is not started here')
            flow["quality"] = resolve_quality(request.quality)
            quality = flow["quality"]
        # Confirmed with ReportStatus once "applied" (after this answer has gone out).
        threading.Timer(0.05, self.s.report_flow, args=(request.flow_id,)).start()
        return pipeline_pb2.AdjustQualityResponse(quality=quality)


def watch_stdin(stop):
    """Stops the module when standard input (a pipe from the orchestrator) ends."""
    try:
        mode = os.fstat(0).st_mode
    except OSError:
        return
    if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
        return  # started by hand, under systemd or nohup: do not exit at once

    def read():
        while sys.stdin.buffer.read1(4096):
            pass
        log("standard input reached end of file (the orchestrator is gone)")
        stop.set()

    threading.Thread(target=read, daemon=True).start()


def discover(screens, reporter):
    """Simulates finding a screen on the network (as mDNS would) and announces it."""
    name = os.environ.get("CAST_SCREEN_DISCOVER", "Living room TV").strip()
    if not name:
        return
    time.sleep(0.3)
    entity_id = f"{MODULE_NAME}-" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    with screens.lock:
        screens.screens.setdefault(entity_id, dict(
            name=name, config={"host": "", "volume": 50}, origin=res.ENTITY_ORIGIN_DISCOVERED, created=now()))
    reporter.event("entities.changed", message=f'found screen "{name}" on the network', entity_id=entity_id)


def server_credentials():
    """TLS when run as a remote module: GRPC_TLS_CERT and GRPC_TLS_KEY (PEM files), and
    GRPC_TLS_CLIENT_CA to require client certificates signed by it (mutual TLS)."""
    cert, key, client_ca = (os.environ.get(n, "") for n in ("GRPC_TLS_CERT", "GRPC_TLS_KEY", "GRPC_TLS_CLIENT_CA"))
    if not (cert or key or client_ca):
        return None
    if not (cert and key):
        log("GRPC_TLS_CERT and GRPC_TLS_KEY go together")
        sys.exit(2)

    def read(path):
        try:
            with open(path, "rb") as f:
                return f.read()
        except OSError as err:
            log(f"cannot read {path}: {err.strerror}")
            sys.exit(2)

    return grpc.ssl_server_credentials(
        [(read(key), read(cert))],
        root_certificates=read(client_ca) if client_ca else None,
        require_client_auth=bool(client_ca),
    )


def main():
    port = os.environ.get("GRPC_PORT", "")
    if not port.isdigit() or not 0 < int(port) < 65536:
        log(f"GRPC_PORT={port!r} is not a port number: the orchestrator sets it")
        sys.exit(2)
    stop = threading.Event()
    reporter = Reporter()
    screens = Screens(reporter)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    module_pb2_grpc.add_ModuleServiceServicer_to_server(ModuleService(stop), server)
    entity_pb2_grpc.add_EntityServiceServicer_to_server(EntityService(screens), server)
    pipeline_pb2_grpc.add_PipelineServiceServicer_to_server(PipelineService(screens), server)
    host = os.environ.get("GRPC_HOST", "127.0.0.1")
    credentials = server_credentials()
    if credentials is None:
        bound = server.add_insecure_port(f"{host}:{port}")
    else:
        bound = server.add_secure_port(f"{host}:{port}", credentials)
    if bound == 0:
        log(f"cannot listen on {host}:{port}")
        sys.exit(1)
    server.start()
    log(f"listening on {host}:{port}{'' if credentials is None else ' (TLS)'}")
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    watch_stdin(stop)
    threading.Thread(target=discover, args=(screens, reporter), daemon=True).start()
    while not stop.wait(0.5):
        pass
    log("stopping")
    server.stop(grace=1).wait(2)
    reporter.close()
    os._exit(0)


if __name__ == "__main__":
    main()
