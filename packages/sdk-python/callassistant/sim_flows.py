"""A module's side of flows, for modules that simulate media (and a starting point for real
ones): the connections the orchestrator made, the flows started on them with their quality,
and metrics (bitrate, fps, latency) that follow the quality. `FlowTable` gives the six
PipelineService handlers; the module says what is specific to it.

    self.flows = ca.FlowTable(check=self.check, address=self.address, latency_ms=40,
                              on_change=lambda status: self.events.status(flows=[status]))
    self.flows.attach(self)   # serves PipelineService with the table's handlers
"""

import asyncio
import random
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

from .rpc_error import Code, RpcError
from .v1 import media_pb2, pipeline_pb2, resources_pb2

#: What each preset means (AUTO and unset start at MEDIUM).
PRESETS: Dict[int, dict] = {
    resources_pb2.QUALITY_PRESET_LOW: dict(
        max_bitrate_kbps=500, width=640, height=360, framerate=15, audio_bitrate_kbps=32
    ),
    resources_pb2.QUALITY_PRESET_MEDIUM: dict(
        max_bitrate_kbps=1500, width=1280, height=720, framerate=30, audio_bitrate_kbps=64
    ),
    resources_pb2.QUALITY_PRESET_HIGH: dict(
        max_bitrate_kbps=4000, width=1920, height=1080, framerate=30, audio_bitrate_kbps=128
    ),
}
PRESETS[resources_pb2.QUALITY_PRESET_UNSPECIFIED] = PRESETS[resources_pb2.QUALITY_PRESET_MEDIUM]
PRESETS[resources_pb2.QUALITY_PRESET_AUTO] = PRESETS[resources_pb2.QUALITY_PRESET_MEDIUM]


def resolve_quality(q: Optional[resources_pb2.QualityProfile]) -> resources_pb2.QualityProfile:
    """The quality with every zero field taken from its preset."""
    preset = q.preset if q is not None else resources_pb2.QUALITY_PRESET_UNSPECIFIED
    base = PRESETS.get(preset, PRESETS[resources_pb2.QUALITY_PRESET_MEDIUM])
    return resources_pb2.QualityProfile(
        preset=preset, **{k: (getattr(q, k) if q is not None else 0) or v for k, v in base.items()}
    )


def simulated_metrics(
    q: resources_pb2.QualityProfile, latency_ms: float, video: bool = True, audio: bool = False
) -> Dict[str, float]:
    """Simulated measurements of a running flow at a quality: within a few percent of it."""

    def jitter(spread: float) -> float:
        return 1 + (random.random() - 0.5) * spread

    metrics = {"latency_ms": round(latency_ms * jitter(0.1), 1)}
    if video:
        metrics.update(
            bitrate_kbps=round(q.max_bitrate_kbps * (0.92 + random.random() * 0.08), 1),
            fps=round(q.framerate * jitter(0.04), 1),
            width=float(q.width),
            height=float(q.height),
        )
    if audio:
        metrics["audio_bitrate_kbps"] = float(q.audio_bitrate_kbps)
    return metrics


@dataclass
class ConnectionSide:
    """One side of a connection, as this module set it up."""

    connection: resources_pb2.Connection
    role: int
    #: The entity of this module on the connection.
    entity_id: str


@dataclass
class SimulatedFlow:
    """A flow as this module sees it."""

    id: str
    running: bool
    #: The quality applied, with the preset's values filled in.
    quality: resources_pb2.QualityProfile
    message: str
    started_at: float = field(default_factory=time.time)


#: The PipelineService handlers a FlowTable provides.
HANDLERS = ("connect_entities", "disconnect_entities", "start_flow", "stop_flow", "get_flow_status", "adjust_quality")


class FlowTable:
    """The connections and flows of one module, and the PipelineService over them.

    `check(request)` raises RpcError NOT_FOUND for an unknown entity, FAILED_PRECONDITION for
    a role or format it cannot handle; `address(request)` is where a receiving entity takes
    media for the connection; `on_change(status)` is told after a flow starts, stops or
    changes quality (after the answer has gone out), e.g. to send ReportStatus.
    """

    def __init__(
        self,
        check: Callable[[pipeline_pb2.ConnectEntitiesRequest], None],
        address: Callable[[pipeline_pb2.ConnectEntitiesRequest], str],
        latency_ms: float = 0,
        on_change: Optional[Callable[[resources_pb2.FlowStatus], None]] = None,
    ):
        self.check = check
        self.address = address
        self.latency_ms = latency_ms
        self.on_change = on_change
        self.connections: Dict[str, ConnectionSide] = {}
        self.flows: Dict[str, SimulatedFlow] = {}

    def attach(self, module) -> None:
        """Serves this table's PipelineService handlers on `module` (its own methods win)."""
        for name in HANDLERS:
            if getattr(module, name, None) is None:
                setattr(module, name, getattr(self, name))

    def connections_of(self, flow_id: str) -> List[ConnectionSide]:
        """Connections of a flow on this module."""
        return [c for c in self.connections.values() if c.connection.flow_id == flow_id]

    def is_active(self, entity_id: str) -> bool:
        """True when the entity is on a running flow."""
        return any(
            c.entity_id == entity_id and (f := self.flows.get(c.connection.flow_id)) is not None and f.running
            for c in self.connections.values()
        )

    def flow_of(self, entity_id: str) -> Optional[SimulatedFlow]:
        """The running flow the entity is on, if any."""
        for c in self.connections.values():
            flow = self.flows.get(c.connection.flow_id)
            if c.entity_id == entity_id and flow is not None and flow.running:
                return flow
        return None

    def drop_entity(self, entity_id: str) -> None:
        """Forgets every connection of an entity (when it is destroyed)."""
        for key in [k for k, c in self.connections.items() if c.entity_id == entity_id]:
            del self.connections[key]

    def status(self, flow_id: str) -> resources_pb2.FlowStatus:
        """The live status of a flow on this module; NOT_FOUND when it has no part in it."""
        flow = self.flows.get(flow_id)
        sides = self.connections_of(flow_id)
        if flow is None and not sides:
            raise RpcError(Code.NOT_FOUND, f'flow "{flow_id}" has no connection on this module')
        media = {c.connection.format.media_type for c in sides}
        quality = flow.quality if flow else resolve_quality(None)
        running = bool(flow and flow.running)
        return resources_pb2.FlowStatus(
            flow_id=flow_id,
            state=resources_pb2.FLOW_STATE_ACTIVE if running else resources_pb2.FLOW_STATE_STOPPED,
            message=flow.message if flow else "connected, not started",
            metrics=simulated_metrics(
                quality, self.latency_ms, media_pb2.MEDIA_TYPE_VIDEO in media, media_pb2.MEDIA_TYPE_AUDIO in media
            ) if running else {},
            quality=quality,
        )

    def _changed(self, flow_id: str) -> None:
        if self.on_change is None:
            return

        def tell() -> None:
            try:
                status = self.status(flow_id)
            except RpcError:
                return  # the flow is gone meanwhile
            self.on_change(status)

        # After the answer has gone out.
        asyncio.get_running_loop().call_later(0.05, tell)

    def connect_entities(self, req: pipeline_pb2.ConnectEntitiesRequest, ctx=None):
        """ConnectEntities: checks, then records this module's side of the connection."""
        if not req.connection_id or not req.flow_id:
            raise RpcError(Code.INVALID_ARGUMENT, "connection_id and flow_id are required")
        if not req.HasField("format"):
            raise RpcError(Code.INVALID_ARGUMENT, "format is required")
        receiver = req.role == resources_pb2.CONNECTION_ROLE_RECEIVER
        if not receiver and req.role != resources_pb2.CONNECTION_ROLE_SENDER:
            raise RpcError(Code.INVALID_ARGUMENT, "role must be RECEIVER or SENDER")
        if not receiver and not req.address:
            raise RpcError(Code.INVALID_ARGUMENT, "a sender needs the receiver's address")
        self.check(req)
        address = self.address(req) if receiver else req.address
        connection = resources_pb2.Connection(
            id=req.connection_id,
            flow_id=req.flow_id,
            source_entity_id=req.source_entity_id,
            target_entity_id=req.target_entity_id,
            format=req.format,
            address=address,
        )
        entity_id = req.target_entity_id if receiver else req.source_entity_id
        # The same id again (after an orchestrator restart) replaces the old side.
        self.connections[f"{req.connection_id}/{req.role}"] = ConnectionSide(connection, req.role, entity_id)
        return pipeline_pb2.ConnectEntitiesResponse(address=address, connection=connection)

    def disconnect_entities(self, req: pipeline_pb2.DisconnectEntitiesRequest, ctx=None):
        """DisconnectEntities: forgets the connection (and the flow with its last one)."""
        for key in [k for k in self.connections if k.startswith(f"{req.connection_id}/")]:
            del self.connections[key]
        if not self.connections_of(req.flow_id):
            self.flows.pop(req.flow_id, None)
        return pipeline_pb2.DisconnectEntitiesResponse()

    def start_flow(self, req: pipeline_pb2.StartFlowRequest, ctx=None):
        """StartFlow: runs the flow on its connections at the requested quality."""
        sides = self.connections_of(req.flow_id)
        ids = {c.connection.id for c in sides}
        unknown = [i for i in req.connection_ids if i not in ids]
        if not sides or unknown:
            names = ", ".join(unknown or req.connection_ids) or "(none given)"
            raise RpcError(
                Code.FAILED_PRECONDITION,
                f'flow "{req.flow_id}": unknown connection(s) {names} on this module: connect them first',
            )
        quality = resolve_quality(req.quality if req.HasField("quality") else None)
        self.flows[req.flow_id] = SimulatedFlow(req.flow_id, True, quality, f"carrying {len(sides)} connection(s)")
        self._changed(req.flow_id)
        return pipeline_pb2.StartFlowResponse(status=self.status(req.flow_id))

    def stop_flow(self, req: pipeline_pb2.StopFlowRequest, ctx=None):
        """StopFlow: stops the flow (its connections stay)."""
        flow = self.flows.get(req.flow_id)
        if flow is not None:
            flow.running = False
            flow.message = "stopped"
            self._changed(req.flow_id)
        return pipeline_pb2.StopFlowResponse()

    def get_flow_status(self, req: pipeline_pb2.GetFlowStatusRequest, ctx=None):
        """GetFlowStatus: the live status."""
        return pipeline_pb2.GetFlowStatusResponse(status=self.status(req.flow_id))

    def adjust_quality(self, req: pipeline_pb2.AdjustQualityRequest, ctx=None):
        """AdjustQuality: applies the quality, confirmed through `on_change`."""
        flow = self.flows.get(req.flow_id)
        if flow is None:
            raise RpcError(Code.NOT_FOUND, f'flow "{req.flow_id}" is not started here')
        flow.quality = resolve_quality(req.quality)
        self._changed(req.flow_id)
        return pipeline_pb2.AdjustQualityResponse(quality=flow.quality)

