"""The Call Assistant module SDK for Python (asyncio, grpc.aio).

    import callassistant as ca

    class Screen(ca.Module):
        name, version, description = "my-screen", "0.1.0", "A screen"
        capabilities = [ca.capability("screen", ca.EntityKind.SINK, inputs=[ca.fmt("video", "hls", "h264")])]

        async def create_entity(self, req, ctx):
            return {"entity": {"id": req.entity_id, "entity_type": req.entity_type}}

    ca.run(Screen())

See README.md beside this package for the whole API. The generated message and gRPC
stubs are in `callassistant.v1` (`from callassistant.v1 import resources_pb2`).
"""

from .asked_connection import asked_connection
from .dispatch import CallContext
from .environment import ModuleEnv, ModuleEnvError, read_env, read_token
from .proto_types import (
    ConnectionRole,
    EntityKind,
    EntityOrigin,
    EntityState,
    FlowState,
    HealthState,
    LatencySource,
    MediaSide,
    MediaType,
    MetricKind,
    ModuleState,
    QualityPreset,
    Severity,
    capability,
    fmt,
    format_name,
)
from .flow_meters import FlowMeters
from .media_meter import MediaMeter
from .report_stream import ConnectTransport, UnaryTransport
from .reporter import EventReporter
from .rpc_error import Code, RpcError
from .runtime import SDK_VERSION, Module, run, serve
from .sdk_log import Logger
from .sim_flows import PRESETS, FlowTable, resolve_quality, simulated_metrics
from .structs import build, from_struct, to_struct
from .tracing import current_trace_id, current_traceparent, parse_traceparent
from .v1.entity_pb2 import (
    ConfigureEntityResponse,
    CreateEntityResponse,
    DestroyEntityResponse,
    GetEntityStatusResponse,
    ListEntitiesResponse,
)
from .v1.media_pb2 import EntityCapability, MediaFormat, MediaStats, ProbedFormats, Transform, TransformCost
from .v1.resources_pb2 import Connection, Entity, EntityStatus, FlowStatus, Metric, QualityProfile

#: The event type a module reports when the entities it discovered on its own changed.
ENTITIES_CHANGED_EVENT = "entities.changed"

__all__ = [
    "asked_connection", "CallContext", "Code", "ConnectTransport", "ConnectionRole", "Connection", "ConfigureEntityResponse",
    "CreateEntityResponse", "DestroyEntityResponse", "ENTITIES_CHANGED_EVENT", "Entity", "EntityCapability",
    "EntityKind", "EntityOrigin", "EntityState", "EntityStatus", "EventReporter", "FlowState", "FlowStatus",
    "FlowMeters", "FlowTable", "GetEntityStatusResponse", "HealthState", "LatencySource", "ListEntitiesResponse", "Logger",
    "MediaFormat", "MediaMeter", "MediaSide", "MediaStats", "MediaType", "ProbedFormats", "Metric", "MetricKind", "Module", "ModuleEnv", "ModuleEnvError", "ModuleState", "PRESETS",
    "QualityPreset", "QualityProfile", "RpcError", "SDK_VERSION", "Severity", "Transform", "TransformCost",
    "UnaryTransport", "build", "capability", "current_trace_id", "current_traceparent", "fmt", "format_name",
    "from_struct", "parse_traceparent", "read_env", "read_token", "resolve_quality", "run", "serve",
    "simulated_metrics", "to_struct",
]
