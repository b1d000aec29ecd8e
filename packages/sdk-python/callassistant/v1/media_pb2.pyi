from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
ENTITY_KIND_CONVERTER: EntityKind
ENTITY_KIND_ENDPOINT: EntityKind
ENTITY_KIND_SINK: EntityKind
ENTITY_KIND_SOURCE: EntityKind
ENTITY_KIND_UNSPECIFIED: EntityKind
LATENCY_SOURCE_MODULE_ESTIMATE: LatencySource
LATENCY_SOURCE_PIXEL_CLOCK: LatencySource
LATENCY_SOURCE_UNSPECIFIED: LatencySource
MEDIA_SIDE_PRESENTED: MediaSide
MEDIA_SIDE_RECEIVED: MediaSide
MEDIA_SIDE_SENT: MediaSide
MEDIA_SIDE_UNSPECIFIED: MediaSide
MEDIA_TYPE_AUDIO: MediaType
MEDIA_TYPE_UNSPECIFIED: MediaType
MEDIA_TYPE_VIDEO: MediaType

class EntityCapability(_message.Message):
    __slots__ = ["config_schema", "description", "entity_type", "inputs", "kind", "outputs", "transforms"]
    CONFIG_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    ENTITY_TYPE_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    TRANSFORMS_FIELD_NUMBER: _ClassVar[int]
    config_schema: _struct_pb2.Struct
    description: str
    entity_type: str
    inputs: _containers.RepeatedCompositeFieldContainer[MediaFormat]
    kind: EntityKind
    outputs: _containers.RepeatedCompositeFieldContainer[MediaFormat]
    transforms: _containers.RepeatedCompositeFieldContainer[Transform]
    def __init__(self, entity_type: _Optional[str] = ..., kind: _Optional[_Union[EntityKind, str]] = ..., inputs: _Optional[_Iterable[_Union[MediaFormat, _Mapping]]] = ..., outputs: _Optional[_Iterable[_Union[MediaFormat, _Mapping]]] = ..., transforms: _Optional[_Iterable[_Union[Transform, _Mapping]]] = ..., description: _Optional[str] = ..., config_schema: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class MediaFormat(_message.Message):
    __slots__ = ["codec", "media_type", "protocol"]
    CODEC_FIELD_NUMBER: _ClassVar[int]
    MEDIA_TYPE_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    codec: str
    media_type: MediaType
    protocol: str
    def __init__(self, media_type: _Optional[_Union[MediaType, str]] = ..., protocol: _Optional[str] = ..., codec: _Optional[str] = ...) -> None: ...

class MediaStats(_message.Message):
    __slots__ = ["bitrate_kbps", "bytes", "codec", "connection_id", "first_frame_at", "fps", "frames", "frames_dropped", "height", "last_frame_at", "latency_ms", "latency_p95_ms", "latency_source", "measured_at", "restarts", "side", "stalls", "started_at", "width"]
    BITRATE_KBPS_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    CODEC_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    FIRST_FRAME_AT_FIELD_NUMBER: _ClassVar[int]
    FPS_FIELD_NUMBER: _ClassVar[int]
    FRAMES_DROPPED_FIELD_NUMBER: _ClassVar[int]
    FRAMES_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    LAST_FRAME_AT_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    LATENCY_P95_MS_FIELD_NUMBER: _ClassVar[int]
    LATENCY_SOURCE_FIELD_NUMBER: _ClassVar[int]
    MEASURED_AT_FIELD_NUMBER: _ClassVar[int]
    RESTARTS_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    STALLS_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    bitrate_kbps: float
    bytes: int
    codec: str
    connection_id: str
    first_frame_at: _timestamp_pb2.Timestamp
    fps: float
    frames: int
    frames_dropped: int
    height: int
    last_frame_at: _timestamp_pb2.Timestamp
    latency_ms: float
    latency_p95_ms: float
    latency_source: LatencySource
    measured_at: _timestamp_pb2.Timestamp
    restarts: int
    side: MediaSide
    stalls: int
    started_at: _timestamp_pb2.Timestamp
    width: int
    def __init__(self, connection_id: _Optional[str] = ..., side: _Optional[_Union[MediaSide, str]] = ..., measured_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., started_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., frames: _Optional[int] = ..., bytes: _Optional[int] = ..., fps: _Optional[float] = ..., bitrate_kbps: _Optional[float] = ..., first_frame_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., last_frame_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., stalls: _Optional[int] = ..., frames_dropped: _Optional[int] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., codec: _Optional[str] = ..., latency_ms: _Optional[float] = ..., latency_p95_ms: _Optional[float] = ..., latency_source: _Optional[_Union[LatencySource, str]] = ..., restarts: _Optional[int] = ...) -> None: ...

class ProbedFormats(_message.Message):
    __slots__ = ["inputs", "inputs_probed", "method", "outputs", "outputs_probed", "probed_at"]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    INPUTS_PROBED_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_PROBED_FIELD_NUMBER: _ClassVar[int]
    PROBED_AT_FIELD_NUMBER: _ClassVar[int]
    inputs: _containers.RepeatedCompositeFieldContainer[MediaFormat]
    inputs_probed: bool
    method: str
    outputs: _containers.RepeatedCompositeFieldContainer[MediaFormat]
    outputs_probed: bool
    probed_at: _timestamp_pb2.Timestamp
    def __init__(self, inputs: _Optional[_Iterable[_Union[MediaFormat, _Mapping]]] = ..., inputs_probed: bool = ..., outputs: _Optional[_Iterable[_Union[MediaFormat, _Mapping]]] = ..., outputs_probed: bool = ..., method: _Optional[str] = ..., probed_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Transform(_message.Message):
    __slots__ = ["cost", "input", "output"]
    COST_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    cost: TransformCost
    input: MediaFormat
    output: MediaFormat
    def __init__(self, input: _Optional[_Union[MediaFormat, _Mapping]] = ..., output: _Optional[_Union[MediaFormat, _Mapping]] = ..., cost: _Optional[_Union[TransformCost, _Mapping]] = ...) -> None: ...

class TransformCost(_message.Message):
    __slots__ = ["cpu", "latency_ms", "quality_loss"]
    CPU_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    QUALITY_LOSS_FIELD_NUMBER: _ClassVar[int]
    cpu: float
    latency_ms: float
    quality_loss: float
    def __init__(self, cpu: _Optional[float] = ..., latency_ms: _Optional[float] = ..., quality_loss: _Optional[float] = ...) -> None: ...

class MediaType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class EntityKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class MediaSide(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class LatencySource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
