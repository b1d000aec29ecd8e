from callassistant.v1 import resources_pb2 as _resources_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Ack(_message.Message):
    __slots__ = ["error", "event_id", "sequence"]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    error: str
    event_id: int
    sequence: int
    def __init__(self, sequence: _Optional[int] = ..., event_id: _Optional[int] = ..., error: _Optional[str] = ...) -> None: ...

class Command(_message.Message):
    __slots__ = ["command_id", "drain", "reload", "set_log_level"]
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    DRAIN_FIELD_NUMBER: _ClassVar[int]
    RELOAD_FIELD_NUMBER: _ClassVar[int]
    SET_LOG_LEVEL_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    drain: DrainCommand
    reload: ReloadCommand
    set_log_level: SetLogLevelCommand
    def __init__(self, command_id: _Optional[str] = ..., set_log_level: _Optional[_Union[SetLogLevelCommand, _Mapping]] = ..., drain: _Optional[_Union[DrainCommand, _Mapping]] = ..., reload: _Optional[_Union[ReloadCommand, _Mapping]] = ...) -> None: ...

class CommandResult(_message.Message):
    __slots__ = ["command_id", "message", "ok"]
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    message: str
    ok: bool
    def __init__(self, command_id: _Optional[str] = ..., ok: bool = ..., message: _Optional[str] = ...) -> None: ...

class ConnectRequest(_message.Message):
    __slots__ = ["command_result", "event", "heartbeat", "metrics", "sequence", "status"]
    COMMAND_RESULT_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    command_result: CommandResult
    event: ReportEventRequest
    heartbeat: Heartbeat
    metrics: ReportMetricsRequest
    sequence: int
    status: ReportStatusRequest
    def __init__(self, sequence: _Optional[int] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ..., event: _Optional[_Union[ReportEventRequest, _Mapping]] = ..., status: _Optional[_Union[ReportStatusRequest, _Mapping]] = ..., metrics: _Optional[_Union[ReportMetricsRequest, _Mapping]] = ..., command_result: _Optional[_Union[CommandResult, _Mapping]] = ...) -> None: ...

class ConnectResponse(_message.Message):
    __slots__ = ["ack", "command"]
    ACK_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    ack: Ack
    command: Command
    def __init__(self, ack: _Optional[_Union[Ack, _Mapping]] = ..., command: _Optional[_Union[Command, _Mapping]] = ...) -> None: ...

class DrainCommand(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class ReloadCommand(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class ReportEventRequest(_message.Message):
    __slots__ = ["data", "entity_id", "flow_id", "message", "severity", "traceparent", "type"]
    DATA_FIELD_NUMBER: _ClassVar[int]
    ENTITY_ID_FIELD_NUMBER: _ClassVar[int]
    FLOW_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    TRACEPARENT_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    data: _struct_pb2.Struct
    entity_id: str
    flow_id: str
    message: str
    severity: _resources_pb2.Severity
    traceparent: str
    type: str
    def __init__(self, type: _Optional[str] = ..., severity: _Optional[_Union[_resources_pb2.Severity, str]] = ..., message: _Optional[str] = ..., entity_id: _Optional[str] = ..., flow_id: _Optional[str] = ..., data: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., traceparent: _Optional[str] = ...) -> None: ...

class ReportEventResponse(_message.Message):
    __slots__ = ["event_id"]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    event_id: int
    def __init__(self, event_id: _Optional[int] = ...) -> None: ...

class ReportMetricsRequest(_message.Message):
    __slots__ = ["metrics"]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    metrics: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Metric]
    def __init__(self, metrics: _Optional[_Iterable[_Union[_resources_pb2.Metric, _Mapping]]] = ...) -> None: ...

class ReportMetricsResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class ReportStatusRequest(_message.Message):
    __slots__ = ["entities", "flows", "message", "state"]
    ENTITIES_FIELD_NUMBER: _ClassVar[int]
    FLOWS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    entities: _containers.RepeatedCompositeFieldContainer[_resources_pb2.EntityStatus]
    flows: _containers.RepeatedCompositeFieldContainer[_resources_pb2.FlowStatus]
    message: str
    state: _resources_pb2.HealthState
    def __init__(self, state: _Optional[_Union[_resources_pb2.HealthState, str]] = ..., message: _Optional[str] = ..., entities: _Optional[_Iterable[_Union[_resources_pb2.EntityStatus, _Mapping]]] = ..., flows: _Optional[_Iterable[_Union[_resources_pb2.FlowStatus, _Mapping]]] = ...) -> None: ...

class ReportStatusResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class SetLogLevelCommand(_message.Message):
    __slots__ = ["level"]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    level: str
    def __init__(self, level: _Optional[str] = ...) -> None: ...
