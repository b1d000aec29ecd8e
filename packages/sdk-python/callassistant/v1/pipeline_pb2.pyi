from callassistant.v1 import media_pb2 as _media_pb2
from callassistant.v1 import resources_pb2 as _resources_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AdjustQualityRequest(_message.Message):
    __slots__ = ["flow_id", "quality"]
    FLOW_ID_FIELD_NUMBER: _ClassVar[int]
    QUALITY_FIELD_NUMBER: _ClassVar[int]
    flow_id: str
    quality: _resources_pb2.QualityProfile
    def __init__(self, flow_id: _Optional[str] = ..., quality: _Optional[_Union[_resources_pb2.QualityProfile, _Mapping]] = ...) -> None: ...

class AdjustQualityResponse(_message.Message):
    __slots__ = ["quality"]
    QUALITY_FIELD_NUMBER: _ClassVar[int]
    quality: _resources_pb2.QualityProfile
    def __init__(self, quality: _Optional[_Union[_resources_pb2.QualityProfile, _Mapping]] = ...) -> None: ...

class ConnectEntitiesRequest(_message.Message):
    __slots__ = ["address", "connection_id", "flow_id", "format", "role", "source_entity_id", "target_entity_id"]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    FLOW_ID_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_ENTITY_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_ENTITY_ID_FIELD_NUMBER: _ClassVar[int]
    address: str
    connection_id: str
    flow_id: str
    format: _media_pb2.MediaFormat
    role: _resources_pb2.ConnectionRole
    source_entity_id: str
    target_entity_id: str
    def __init__(self, connection_id: _Optional[str] = ..., flow_id: _Optional[str] = ..., source_entity_id: _Optional[str] = ..., target_entity_id: _Optional[str] = ..., format: _Optional[_Union[_media_pb2.MediaFormat, _Mapping]] = ..., role: _Optional[_Union[_resources_pb2.ConnectionRole, str]] = ..., address: _Optional[str] = ...) -> None: ...

class ConnectEntitiesResponse(_message.Message):
    __slots__ = ["address", "connection"]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_FIELD_NUMBER: _ClassVar[int]
    address: str
    connection: _resources_pb2.Connection
    def __init__(self, address: _Optional[str] = ..., connection: _Optional[_Union[_resources_pb2.Connection, _Mapping]] = ...) -> None: ...

class DisconnectEntitiesRequest(_message.Message):
    __slots__ = ["connection_id", "flow_id"]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    FLOW_ID_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    flow_id: str
    def __init__(self, connection_id: _Optional[str] = ..., flow_id: _Optional[str] = ...) -> None: ...

class DisconnectEntitiesResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class GetFlowStatusRequest(_message.Message):
    __slots__ = ["flow_id"]
    FLOW_ID_FIELD_NUMBER: _ClassVar[int]
    flow_id: str
    def __init__(self, flow_id: _Optional[str] = ...) -> None: ...

class GetFlowStatusResponse(_message.Message):
    __slots__ = ["status"]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: _resources_pb2.FlowStatus
    def __init__(self, status: _Optional[_Union[_resources_pb2.FlowStatus, _Mapping]] = ...) -> None: ...

class ReestablishConnectionRequest(_message.Message):
    __slots__ = ["connection_id", "flow_id", "reason"]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    FLOW_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    flow_id: str
    reason: str
    def __init__(self, flow_id: _Optional[str] = ..., connection_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ReestablishConnectionResponse(_message.Message):
    __slots__ = ["message"]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    message: str
    def __init__(self, message: _Optional[str] = ...) -> None: ...

class StartFlowRequest(_message.Message):
    __slots__ = ["connection_ids", "flow_id", "quality"]
    CONNECTION_IDS_FIELD_NUMBER: _ClassVar[int]
    FLOW_ID_FIELD_NUMBER: _ClassVar[int]
    QUALITY_FIELD_NUMBER: _ClassVar[int]
    connection_ids: _containers.RepeatedScalarFieldContainer[str]
    flow_id: str
    quality: _resources_pb2.QualityProfile
    def __init__(self, flow_id: _Optional[str] = ..., connection_ids: _Optional[_Iterable[str]] = ..., quality: _Optional[_Union[_resources_pb2.QualityProfile, _Mapping]] = ...) -> None: ...

class StartFlowResponse(_message.Message):
    __slots__ = ["status"]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: _resources_pb2.FlowStatus
    def __init__(self, status: _Optional[_Union[_resources_pb2.FlowStatus, _Mapping]] = ...) -> None: ...

class StopFlowRequest(_message.Message):
    __slots__ = ["flow_id"]
    FLOW_ID_FIELD_NUMBER: _ClassVar[int]
    flow_id: str
    def __init__(self, flow_id: _Optional[str] = ...) -> None: ...

class StopFlowResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...
