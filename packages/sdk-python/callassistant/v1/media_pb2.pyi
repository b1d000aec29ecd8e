from google.protobuf import struct_pb2 as _struct_pb2
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
