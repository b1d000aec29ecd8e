from callassistant.v1 import resources_pb2 as _resources_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ConfigureEntityRequest(_message.Message):
    __slots__ = ["configuration", "entity_id"]
    CONFIGURATION_FIELD_NUMBER: _ClassVar[int]
    ENTITY_ID_FIELD_NUMBER: _ClassVar[int]
    configuration: _struct_pb2.Struct
    entity_id: str
    def __init__(self, entity_id: _Optional[str] = ..., configuration: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class ConfigureEntityResponse(_message.Message):
    __slots__ = ["entity"]
    ENTITY_FIELD_NUMBER: _ClassVar[int]
    entity: _resources_pb2.Entity
    def __init__(self, entity: _Optional[_Union[_resources_pb2.Entity, _Mapping]] = ...) -> None: ...

class CreateEntityRequest(_message.Message):
    __slots__ = ["configuration", "entity_id", "entity_type", "name"]
    CONFIGURATION_FIELD_NUMBER: _ClassVar[int]
    ENTITY_ID_FIELD_NUMBER: _ClassVar[int]
    ENTITY_TYPE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    configuration: _struct_pb2.Struct
    entity_id: str
    entity_type: str
    name: str
    def __init__(self, entity_id: _Optional[str] = ..., entity_type: _Optional[str] = ..., name: _Optional[str] = ..., configuration: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class CreateEntityResponse(_message.Message):
    __slots__ = ["entity"]
    ENTITY_FIELD_NUMBER: _ClassVar[int]
    entity: _resources_pb2.Entity
    def __init__(self, entity: _Optional[_Union[_resources_pb2.Entity, _Mapping]] = ...) -> None: ...

class DestroyEntityRequest(_message.Message):
    __slots__ = ["entity_id"]
    ENTITY_ID_FIELD_NUMBER: _ClassVar[int]
    entity_id: str
    def __init__(self, entity_id: _Optional[str] = ...) -> None: ...

class DestroyEntityResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class GetEntityStatusRequest(_message.Message):
    __slots__ = ["entity_id"]
    ENTITY_ID_FIELD_NUMBER: _ClassVar[int]
    entity_id: str
    def __init__(self, entity_id: _Optional[str] = ...) -> None: ...

class GetEntityStatusResponse(_message.Message):
    __slots__ = ["status"]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: _resources_pb2.EntityStatus
    def __init__(self, status: _Optional[_Union[_resources_pb2.EntityStatus, _Mapping]] = ...) -> None: ...

class ListEntitiesRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class ListEntitiesResponse(_message.Message):
    __slots__ = ["entities"]
    ENTITIES_FIELD_NUMBER: _ClassVar[int]
    entities: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Entity]
    def __init__(self, entities: _Optional[_Iterable[_Union[_resources_pb2.Entity, _Mapping]]] = ...) -> None: ...
