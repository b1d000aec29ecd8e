"""The protocol's enums as Python IntEnums with short names (`EntityKind.SINK`,
`HealthState.READY`), and helpers to write formats and capabilities. The values are the
proto numbers, so they go straight into messages."""

import enum
from typing import Iterable, Optional, Union

from . import structs
from .v1 import media_pb2, resources_pb2


def _enum(name: str, wrapper, prefix: str) -> type:
    return enum.IntEnum(name, {n[len(prefix):]: v for n, v in wrapper.items()})


MediaType = _enum("MediaType", media_pb2.MediaType, "MEDIA_TYPE_")
EntityKind = _enum("EntityKind", media_pb2.EntityKind, "ENTITY_KIND_")
ModuleState = _enum("ModuleState", resources_pb2.ModuleState, "MODULE_STATE_")
HealthState = _enum("HealthState", resources_pb2.HealthState, "HEALTH_STATE_")
EntityState = _enum("EntityState", resources_pb2.EntityState, "ENTITY_STATE_")
EntityOrigin = _enum("EntityOrigin", resources_pb2.EntityOrigin, "ENTITY_ORIGIN_")
ConnectionRole = _enum("ConnectionRole", resources_pb2.ConnectionRole, "CONNECTION_ROLE_")
FlowState = _enum("FlowState", resources_pb2.FlowState, "FLOW_STATE_")
QualityPreset = _enum("QualityPreset", resources_pb2.QualityPreset, "QUALITY_PRESET_")
Severity = _enum("Severity", resources_pb2.Severity, "SEVERITY_")
MetricKind = _enum("MetricKind", resources_pb2.MetricKind, "METRIC_KIND_")
MediaSide = _enum("MediaSide", media_pb2.MediaSide, "MEDIA_SIDE_")
LatencySource = _enum("LatencySource", media_pb2.LatencySource, "LATENCY_SOURCE_")


def fmt(media: Union[str, int], protocol: str, codec: str) -> media_pb2.MediaFormat:
    """A MediaFormat: `fmt("video", "hls", "h264")` (media as "video"/"audio" or MediaType)."""
    if isinstance(media, str):
        try:
            media = MediaType[media.upper()]
        except KeyError:
            raise ValueError(f'unknown media type "{media}" (video or audio)') from None
    return media_pb2.MediaFormat(media_type=int(media), protocol=protocol, codec=codec)


def format_name(f: Optional[media_pb2.MediaFormat]) -> str:
    """"video/hls/h264": a format for messages and comparisons."""
    if f is None:
        return "(none)"
    media = {MediaType.VIDEO: "video", MediaType.AUDIO: "audio"}.get(f.media_type, f"media-{f.media_type}")
    return f"{media}/{f.protocol.lower()}/{f.codec.lower()}"


def capability(
    entity_type: str,
    kind: Union[int, str],
    *,
    inputs: Iterable[media_pb2.MediaFormat] = (),
    outputs: Iterable[media_pb2.MediaFormat] = (),
    transforms: Iterable = (),
    description: str = "",
    config_schema: Optional[dict] = None,
) -> media_pb2.EntityCapability:
    """An entity type the module provides, for `Module.capabilities`.

    `kind` is an EntityKind or its name ("sink"); `transforms` are Transform messages or
    dicts `{input, output, cost: {cpu, latency_ms, quality_loss}}`; `config_schema` is the
    JSON Schema of an entity's configuration.
    """
    if isinstance(kind, str):
        try:
            kind = EntityKind[kind.upper()]
        except KeyError:
            raise ValueError(f'unknown entity kind "{kind}" (source, sink, converter, endpoint)') from None
    return media_pb2.EntityCapability(
        entity_type=entity_type,
        kind=int(kind),
        inputs=list(inputs),
        outputs=list(outputs),
        transforms=[structs.build(media_pb2.Transform, t) for t in transforms],
        description=description,
        config_schema=structs.to_struct(config_schema) if config_schema is not None else None,
    )
