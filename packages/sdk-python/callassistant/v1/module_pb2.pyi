from callassistant.v1 import media_pb2 as _media_pb2
from callassistant.v1 import resources_pb2 as _resources_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ConfigureRequest(_message.Message):
    __slots__ = ["config", "revision"]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    config: _struct_pb2.Struct
    revision: int
    def __init__(self, config: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., revision: _Optional[int] = ...) -> None: ...

class ConfigureResponse(_message.Message):
    __slots__ = ["message", "state"]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    message: str
    state: _resources_pb2.HealthState
    def __init__(self, state: _Optional[_Union[_resources_pb2.HealthState, str]] = ..., message: _Optional[str] = ...) -> None: ...

class HealthCheckRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class HealthCheckResponse(_message.Message):
    __slots__ = ["entities", "message", "state"]
    ENTITIES_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    entities: _containers.RepeatedCompositeFieldContainer[_resources_pb2.EntityStatus]
    message: str
    state: _resources_pb2.HealthState
    def __init__(self, state: _Optional[_Union[_resources_pb2.HealthState, str]] = ..., message: _Optional[str] = ..., entities: _Optional[_Iterable[_Union[_resources_pb2.EntityStatus, _Mapping]]] = ...) -> None: ...

class RegisterModuleRequest(_message.Message):
    __slots__ = ["module_id", "orchestrator_address", "orchestrator_version", "restart"]
    MODULE_ID_FIELD_NUMBER: _ClassVar[int]
    ORCHESTRATOR_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    ORCHESTRATOR_VERSION_FIELD_NUMBER: _ClassVar[int]
    RESTART_FIELD_NUMBER: _ClassVar[int]
    module_id: str
    orchestrator_address: str
    orchestrator_version: str
    restart: int
    def __init__(self, module_id: _Optional[str] = ..., orchestrator_version: _Optional[str] = ..., orchestrator_address: _Optional[str] = ..., restart: _Optional[int] = ...) -> None: ...

class RegisterModuleResponse(_message.Message):
    __slots__ = ["capabilities", "config_schema", "info", "requires_config"]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    CONFIG_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    INFO_FIELD_NUMBER: _ClassVar[int]
    REQUIRES_CONFIG_FIELD_NUMBER: _ClassVar[int]
    capabilities: _containers.RepeatedCompositeFieldContainer[_media_pb2.EntityCapability]
    config_schema: _struct_pb2.Struct
    info: _resources_pb2.ModuleInfo
    requires_config: bool
    def __init__(self, info: _Optional[_Union[_resources_pb2.ModuleInfo, _Mapping]] = ..., capabilities: _Optional[_Iterable[_Union[_media_pb2.EntityCapability, _Mapping]]] = ..., config_schema: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., requires_config: bool = ...) -> None: ...

class ShutdownRequest(_message.Message):
    __slots__ = ["grace_period", "reason"]
    GRACE_PERIOD_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    grace_period: _duration_pb2.Duration
    reason: str
    def __init__(self, grace_period: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class ShutdownResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...
