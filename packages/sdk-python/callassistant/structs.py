"""JSON values <-> protobuf: `google.protobuf.Struct` to and from dicts, and messages built
from plain dicts (what handlers may return instead of message objects)."""

import datetime
import math
from collections.abc import Mapping
from typing import Any, Optional, Type, TypeVar

from google.protobuf import struct_pb2, timestamp_pb2
from google.protobuf.message import Message

M = TypeVar("M", bound=Message)


def to_struct(data: Optional[Mapping]) -> struct_pb2.Struct:
    """A Struct holding the JSON object `data` (None gives an empty one).

    Raises ValueError for a value JSON cannot hold (e.g. a set or a datetime).
    """
    struct = struct_pb2.Struct()
    if data is not None:
        if not isinstance(data, Mapping):
            raise ValueError(f"expected a JSON object (dict), got {type(data).__name__}")
        try:
            struct.update(data)
        except (TypeError, ValueError) as err:
            raise ValueError(f"not a JSON object: {err}") from None
    return struct


def from_value(value: struct_pb2.Value) -> Any:
    """The Python value of a `google.protobuf.Value`; whole numbers become ints."""
    kind = value.WhichOneof("kind")
    if kind == "struct_value":
        return from_struct(value.struct_value)
    if kind == "list_value":
        return [from_value(v) for v in value.list_value.values]
    if kind == "number_value":
        n = value.number_value
        # JSON has one number type: 20 comes back as 20, not 20.0.
        return int(n) if math.isfinite(n) and n.is_integer() and abs(n) < 2**53 else n
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    return None


def from_struct(struct: Optional[struct_pb2.Struct]) -> dict:
    """The dict of a Struct (None gives {}); whole numbers become ints."""
    if struct is None:
        return {}
    return {key: from_value(value) for key, value in struct.fields.items()}


def build(cls: Type[M], data: Any) -> M:
    """A `cls` message from `data`: a `cls` itself, None (empty), or a dict by field name.

    Inside a dict, a Struct field takes a dict, a Timestamp a datetime, a message field a
    message or a dict, a repeated field a list, a map field a dict. Raises ValueError naming
    an unknown field, TypeError for a value of the wrong kind.
    """
    if data is None:
        return cls()
    if isinstance(data, cls):
        return data
    name = cls.DESCRIPTOR.full_name
    if isinstance(data, Message):
        raise TypeError(f"expected {name}, got {data.DESCRIPTOR.full_name}")
    if name == "google.protobuf.Struct":
        return to_struct(data)  # type: ignore[return-value]
    if name == "google.protobuf.Timestamp" and isinstance(data, datetime.datetime):
        ts = timestamp_pb2.Timestamp()
        ts.FromDatetime(data)  # a naive datetime is taken as UTC
        return ts  # type: ignore[return-value]
    if not isinstance(data, Mapping):
        raise TypeError(f"expected {name} or a dict, got {type(data).__name__}")
    message = cls()
    for key, value in data.items():
        field = cls.DESCRIPTOR.fields_by_name.get(key)
        if field is None:
            known = ", ".join(cls.DESCRIPTOR.fields_by_name)
            raise ValueError(f'{cls.DESCRIPTOR.name} has no field "{key}" (fields: {known})')
        if value is not None:
            _set_field(message, field, value)
    return message


def _set_field(message: Message, field, value: Any) -> None:
    target = getattr(message, field.name)
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        value_field = field.message_type.fields_by_name["value"]
        for k, v in value.items():
            if value_field.message_type is not None:
                entry = target[k]
                entry.CopyFrom(build(type(entry), v))
            else:
                target[k] = v
    elif field.label == field.LABEL_REPEATED:
        if isinstance(value, (str, bytes, Mapping)):
            raise TypeError(f'field "{field.name}" takes a list')
        if field.message_type is not None:
            for item in value:
                entry = target.add()
                entry.CopyFrom(build(type(entry), item))
        else:
            target.extend(value)
    elif field.message_type is not None:
        target.CopyFrom(build(type(target), value))
    else:
        setattr(message, field.name, value)
