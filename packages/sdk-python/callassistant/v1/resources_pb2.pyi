from callassistant.v1 import media_pb2 as _media_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

CONNECTION_ROLE_RECEIVER: ConnectionRole
CONNECTION_ROLE_SENDER: ConnectionRole
CONNECTION_ROLE_UNSPECIFIED: ConnectionRole
DESCRIPTOR: _descriptor.FileDescriptor
ENTITY_ORIGIN_CREATED: EntityOrigin
ENTITY_ORIGIN_DISCOVERED: EntityOrigin
ENTITY_ORIGIN_FLOW: EntityOrigin
ENTITY_ORIGIN_UNSPECIFIED: EntityOrigin
ENTITY_STATE_ACTIVE: EntityState
ENTITY_STATE_CREATING: EntityState
ENTITY_STATE_DEGRADED: EntityState
ENTITY_STATE_FAILED: EntityState
ENTITY_STATE_OFFLINE: EntityState
ENTITY_STATE_READY: EntityState
ENTITY_STATE_UNSPECIFIED: EntityState
FLOW_STATE_ACTIVE: FlowState
FLOW_STATE_CREATING: FlowState
FLOW_STATE_DEGRADED: FlowState
FLOW_STATE_FAILED: FlowState
FLOW_STATE_STARTING: FlowState
FLOW_STATE_STOPPED: FlowState
FLOW_STATE_UNSPECIFIED: FlowState
HEALTH_STATE_DEGRADED: HealthState
HEALTH_STATE_READY: HealthState
HEALTH_STATE_STARTING: HealthState
HEALTH_STATE_UNHEALTHY: HealthState
HEALTH_STATE_UNSPECIFIED: HealthState
HEALTH_STATE_WAITING_FOR_CONFIG: HealthState
HOP_STATE_FLOWING: HopState
HOP_STATE_SLOW: HopState
HOP_STATE_STALLED: HopState
HOP_STATE_UNMEASURED: HopState
HOP_STATE_UNSPECIFIED: HopState
HOP_STATE_WAITING: HopState
METRIC_KIND_COUNTER: MetricKind
METRIC_KIND_GAUGE: MetricKind
METRIC_KIND_UNSPECIFIED: MetricKind
MODULE_STATE_BACKOFF: ModuleState
MODULE_STATE_DEGRADED: ModuleState
MODULE_STATE_FAILED: ModuleState
MODULE_STATE_PENDING: ModuleState
MODULE_STATE_READY: ModuleState
MODULE_STATE_STARTING: ModuleState
MODULE_STATE_STOPPED: ModuleState
MODULE_STATE_STOPPING: ModuleState
MODULE_STATE_UNSPECIFIED: ModuleState
MODULE_STATE_WAITING_FOR_CONFIG: ModuleState
QUALITY_PRESET_AUTO: QualityPreset
QUALITY_PRESET_HIGH: QualityPreset
QUALITY_PRESET_LOW: QualityPreset
QUALITY_PRESET_MEDIUM: QualityPreset
QUALITY_PRESET_UNSPECIFIED: QualityPreset
SEVERITY_CRITICAL: Severity
SEVERITY_DEBUG: Severity
SEVERITY_ERROR: Severity
SEVERITY_INFO: Severity
SEVERITY_UNSPECIFIED: Severity
SEVERITY_WARNING: Severity

class Connection(_message.Message):
    __slots__ = ["address", "flow_id", "format", "id", "source_entity_id", "target_entity_id"]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    FLOW_ID_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_ENTITY_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_ENTITY_ID_FIELD_NUMBER: _ClassVar[int]
    address: str
    flow_id: str
    format: _media_pb2.MediaFormat
    id: str
    source_entity_id: str
    target_entity_id: str
    def __init__(self, id: _Optional[str] = ..., flow_id: _Optional[str] = ..., source_entity_id: _Optional[str] = ..., target_entity_id: _Optional[str] = ..., format: _Optional[_Union[_media_pb2.MediaFormat, _Mapping]] = ..., address: _Optional[str] = ...) -> None: ...

class Entity(_message.Message):
    __slots__ = ["configuration", "created_at", "entity_type", "id", "kind", "module", "name", "origin", "state", "status", "updated_at"]
    CONFIGURATION_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    ENTITY_TYPE_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    MODULE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    configuration: _struct_pb2.Struct
    created_at: _timestamp_pb2.Timestamp
    entity_type: str
    id: str
    kind: _media_pb2.EntityKind
    module: str
    name: str
    origin: EntityOrigin
    state: EntityState
    status: EntityStatus
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., entity_type: _Optional[str] = ..., kind: _Optional[_Union[_media_pb2.EntityKind, str]] = ..., module: _Optional[str] = ..., name: _Optional[str] = ..., state: _Optional[_Union[EntityState, str]] = ..., configuration: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., origin: _Optional[_Union[EntityOrigin, str]] = ..., status: _Optional[_Union[EntityStatus, _Mapping]] = ..., created_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class EntityStatus(_message.Message):
    __slots__ = ["entity_id", "formats", "message", "metrics", "state"]
    class MetricsEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    ENTITY_ID_FIELD_NUMBER: _ClassVar[int]
    FORMATS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    entity_id: str
    formats: _media_pb2.ProbedFormats
    message: str
    metrics: _containers.ScalarMap[str, float]
    state: EntityState
    def __init__(self, entity_id: _Optional[str] = ..., state: _Optional[_Union[EntityState, str]] = ..., message: _Optional[str] = ..., metrics: _Optional[_Mapping[str, float]] = ..., formats: _Optional[_Union[_media_pb2.ProbedFormats, _Mapping]] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ["data", "entity_id", "flow_id", "id", "message", "module", "severity", "source", "time", "trace_id", "type"]
    DATA_FIELD_NUMBER: _ClassVar[int]
    ENTITY_ID_FIELD_NUMBER: _ClassVar[int]
    FLOW_ID_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    MODULE_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    data: _struct_pb2.Struct
    entity_id: str
    flow_id: str
    id: int
    message: str
    module: str
    severity: Severity
    source: str
    time: _timestamp_pb2.Timestamp
    trace_id: str
    type: str
    def __init__(self, id: _Optional[int] = ..., time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., type: _Optional[str] = ..., severity: _Optional[_Union[Severity, str]] = ..., module: _Optional[str] = ..., entity_id: _Optional[str] = ..., flow_id: _Optional[str] = ..., message: _Optional[str] = ..., data: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., trace_id: _Optional[str] = ..., source: _Optional[str] = ...) -> None: ...

class Flow(_message.Message):
    __slots__ = ["connections", "created_at", "first_frame_timeout", "health", "id", "max_latency", "message", "path", "quality", "source_entity_id", "stall_timeout", "state", "statuses", "target_entity_id", "target_protocol", "updated_at"]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    FIRST_FRAME_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    HEALTH_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    MAX_LATENCY_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    QUALITY_FIELD_NUMBER: _ClassVar[int]
    SOURCE_ENTITY_ID_FIELD_NUMBER: _ClassVar[int]
    STALL_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    TARGET_ENTITY_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    connections: _containers.RepeatedCompositeFieldContainer[Connection]
    created_at: _timestamp_pb2.Timestamp
    first_frame_timeout: _duration_pb2.Duration
    health: FlowHealth
    id: str
    max_latency: _duration_pb2.Duration
    message: str
    path: _containers.RepeatedCompositeFieldContainer[PathHop]
    quality: QualityProfile
    source_entity_id: str
    stall_timeout: _duration_pb2.Duration
    state: FlowState
    statuses: _containers.RepeatedCompositeFieldContainer[FlowStatus]
    target_entity_id: str
    target_protocol: str
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., source_entity_id: _Optional[str] = ..., target_entity_id: _Optional[str] = ..., state: _Optional[_Union[FlowState, str]] = ..., message: _Optional[str] = ..., path: _Optional[_Iterable[_Union[PathHop, _Mapping]]] = ..., connections: _Optional[_Iterable[_Union[Connection, _Mapping]]] = ..., quality: _Optional[_Union[QualityProfile, _Mapping]] = ..., statuses: _Optional[_Iterable[_Union[FlowStatus, _Mapping]]] = ..., created_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., target_protocol: _Optional[str] = ..., stall_timeout: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., first_frame_timeout: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., max_latency: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., health: _Optional[_Union[FlowHealth, _Mapping]] = ...) -> None: ...

class FlowHealth(_message.Message):
    __slots__ = ["hops", "judged_at", "latency_ms", "latency_source", "reestablishments", "reroutes", "stalls", "time_to_first_frame", "watched"]
    HOPS_FIELD_NUMBER: _ClassVar[int]
    JUDGED_AT_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    LATENCY_SOURCE_FIELD_NUMBER: _ClassVar[int]
    REESTABLISHMENTS_FIELD_NUMBER: _ClassVar[int]
    REROUTES_FIELD_NUMBER: _ClassVar[int]
    STALLS_FIELD_NUMBER: _ClassVar[int]
    TIME_TO_FIRST_FRAME_FIELD_NUMBER: _ClassVar[int]
    WATCHED_FIELD_NUMBER: _ClassVar[int]
    hops: _containers.RepeatedCompositeFieldContainer[HopHealth]
    judged_at: _timestamp_pb2.Timestamp
    latency_ms: float
    latency_source: _media_pb2.LatencySource
    reestablishments: int
    reroutes: int
    stalls: int
    time_to_first_frame: _duration_pb2.Duration
    watched: bool
    def __init__(self, watched: bool = ..., hops: _Optional[_Iterable[_Union[HopHealth, _Mapping]]] = ..., latency_ms: _Optional[float] = ..., latency_source: _Optional[_Union[_media_pb2.LatencySource, str]] = ..., time_to_first_frame: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., stalls: _Optional[int] = ..., reestablishments: _Optional[int] = ..., reroutes: _Optional[int] = ..., judged_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class FlowStatus(_message.Message):
    __slots__ = ["flow_id", "media", "message", "metrics", "module", "quality", "state"]
    class MetricsEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    FLOW_ID_FIELD_NUMBER: _ClassVar[int]
    MEDIA_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    MODULE_FIELD_NUMBER: _ClassVar[int]
    QUALITY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    flow_id: str
    media: _containers.RepeatedCompositeFieldContainer[_media_pb2.MediaStats]
    message: str
    metrics: _containers.ScalarMap[str, float]
    module: str
    quality: QualityProfile
    state: FlowState
    def __init__(self, flow_id: _Optional[str] = ..., state: _Optional[_Union[FlowState, str]] = ..., message: _Optional[str] = ..., metrics: _Optional[_Mapping[str, float]] = ..., quality: _Optional[_Union[QualityProfile, _Mapping]] = ..., module: _Optional[str] = ..., media: _Optional[_Iterable[_Union[_media_pb2.MediaStats, _Mapping]]] = ...) -> None: ...

class HopHealth(_message.Message):
    __slots__ = ["connection_id", "entity_id", "message", "module", "side", "since", "state", "stats"]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    ENTITY_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    MODULE_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    entity_id: str
    message: str
    module: str
    side: _media_pb2.MediaSide
    since: _timestamp_pb2.Timestamp
    state: HopState
    stats: _media_pb2.MediaStats
    def __init__(self, connection_id: _Optional[str] = ..., side: _Optional[_Union[_media_pb2.MediaSide, str]] = ..., module: _Optional[str] = ..., entity_id: _Optional[str] = ..., state: _Optional[_Union[HopState, str]] = ..., message: _Optional[str] = ..., since: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., stats: _Optional[_Union[_media_pb2.MediaStats, _Mapping]] = ...) -> None: ...

class MediaPath(_message.Message):
    __slots__ = ["hops", "media_type", "total_cost"]
    HOPS_FIELD_NUMBER: _ClassVar[int]
    MEDIA_TYPE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COST_FIELD_NUMBER: _ClassVar[int]
    hops: _containers.RepeatedCompositeFieldContainer[PathHop]
    media_type: _media_pb2.MediaType
    total_cost: float
    def __init__(self, media_type: _Optional[_Union[_media_pb2.MediaType, str]] = ..., hops: _Optional[_Iterable[_Union[PathHop, _Mapping]]] = ..., total_cost: _Optional[float] = ...) -> None: ...

class Metric(_message.Message):
    __slots__ = ["help", "kind", "labels", "name", "value"]
    class LabelsEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    HELP_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    help: str
    kind: MetricKind
    labels: _containers.ScalarMap[str, str]
    name: str
    value: float
    def __init__(self, name: _Optional[str] = ..., value: _Optional[float] = ..., labels: _Optional[_Mapping[str, str]] = ..., kind: _Optional[_Union[MetricKind, str]] = ..., help: _Optional[str] = ...) -> None: ...

class Module(_message.Message):
    __slots__ = ["address", "capabilities", "config_schema", "dependencies", "description", "exit_code", "exit_signal", "grpc_port", "health", "history", "last_error", "last_stderr", "manifest_digest", "manifest_path", "name", "pid", "replicas", "resources", "restarts", "started_at", "state", "state_changed_at", "version"]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    CONFIG_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    DEPENDENCIES_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    EXIT_SIGNAL_FIELD_NUMBER: _ClassVar[int]
    GRPC_PORT_FIELD_NUMBER: _ClassVar[int]
    HEALTH_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    LAST_STDERR_FIELD_NUMBER: _ClassVar[int]
    MANIFEST_DIGEST_FIELD_NUMBER: _ClassVar[int]
    MANIFEST_PATH_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    RESTARTS_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    STATE_CHANGED_AT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    address: str
    capabilities: _containers.RepeatedCompositeFieldContainer[_media_pb2.EntityCapability]
    config_schema: _struct_pb2.Struct
    dependencies: _containers.RepeatedScalarFieldContainer[str]
    description: str
    exit_code: int
    exit_signal: str
    grpc_port: int
    health: ModuleHealth
    history: _containers.RepeatedCompositeFieldContainer[ModuleRun]
    last_error: str
    last_stderr: _containers.RepeatedScalarFieldContainer[str]
    manifest_digest: str
    manifest_path: str
    name: str
    pid: int
    replicas: _containers.RepeatedCompositeFieldContainer[ModuleReplica]
    resources: ModuleResources
    restarts: int
    started_at: _timestamp_pb2.Timestamp
    state: ModuleState
    state_changed_at: _timestamp_pb2.Timestamp
    version: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., description: _Optional[str] = ..., state: _Optional[_Union[ModuleState, str]] = ..., health: _Optional[_Union[ModuleHealth, _Mapping]] = ..., pid: _Optional[int] = ..., grpc_port: _Optional[int] = ..., restarts: _Optional[int] = ..., last_error: _Optional[str] = ..., capabilities: _Optional[_Iterable[_Union[_media_pb2.EntityCapability, _Mapping]]] = ..., manifest_path: _Optional[str] = ..., dependencies: _Optional[_Iterable[str]] = ..., address: _Optional[str] = ..., started_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., state_changed_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., exit_code: _Optional[int] = ..., exit_signal: _Optional[str] = ..., history: _Optional[_Iterable[_Union[ModuleRun, _Mapping]]] = ..., last_stderr: _Optional[_Iterable[str]] = ..., config_schema: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., manifest_digest: _Optional[str] = ..., replicas: _Optional[_Iterable[_Union[ModuleReplica, _Mapping]]] = ..., resources: _Optional[_Union[ModuleResources, _Mapping]] = ...) -> None: ...

class ModuleHealth(_message.Message):
    __slots__ = ["checked_at", "consecutive_failures", "message", "state"]
    CHECKED_AT_FIELD_NUMBER: _ClassVar[int]
    CONSECUTIVE_FAILURES_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    checked_at: _timestamp_pb2.Timestamp
    consecutive_failures: int
    message: str
    state: HealthState
    def __init__(self, state: _Optional[_Union[HealthState, str]] = ..., message: _Optional[str] = ..., checked_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., consecutive_failures: _Optional[int] = ...) -> None: ...

class ModuleInfo(_message.Message):
    __slots__ = ["description", "name", "sdk", "version"]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SDK_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    description: str
    name: str
    sdk: str
    version: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., description: _Optional[str] = ..., sdk: _Optional[str] = ...) -> None: ...

class ModuleReplica(_message.Message):
    __slots__ = ["grpc_port", "index", "last_error", "pid", "resources", "restarts", "started_at", "state"]
    GRPC_PORT_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    RESTARTS_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    grpc_port: int
    index: int
    last_error: str
    pid: int
    resources: ModuleResources
    restarts: int
    started_at: _timestamp_pb2.Timestamp
    state: ModuleState
    def __init__(self, index: _Optional[int] = ..., state: _Optional[_Union[ModuleState, str]] = ..., pid: _Optional[int] = ..., grpc_port: _Optional[int] = ..., restarts: _Optional[int] = ..., last_error: _Optional[str] = ..., started_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., resources: _Optional[_Union[ModuleResources, _Mapping]] = ...) -> None: ...

class ModuleResources(_message.Message):
    __slots__ = ["cpu_cores", "cpu_seconds", "memory_limit_bytes", "over_limit_since", "processes", "rss_bytes", "sampled_at"]
    CPU_CORES_FIELD_NUMBER: _ClassVar[int]
    CPU_SECONDS_FIELD_NUMBER: _ClassVar[int]
    MEMORY_LIMIT_BYTES_FIELD_NUMBER: _ClassVar[int]
    OVER_LIMIT_SINCE_FIELD_NUMBER: _ClassVar[int]
    PROCESSES_FIELD_NUMBER: _ClassVar[int]
    RSS_BYTES_FIELD_NUMBER: _ClassVar[int]
    SAMPLED_AT_FIELD_NUMBER: _ClassVar[int]
    cpu_cores: float
    cpu_seconds: float
    memory_limit_bytes: int
    over_limit_since: _timestamp_pb2.Timestamp
    processes: int
    rss_bytes: int
    sampled_at: _timestamp_pb2.Timestamp
    def __init__(self, cpu_seconds: _Optional[float] = ..., cpu_cores: _Optional[float] = ..., rss_bytes: _Optional[int] = ..., processes: _Optional[int] = ..., sampled_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., memory_limit_bytes: _Optional[int] = ..., over_limit_since: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ModuleRun(_message.Message):
    __slots__ = ["exit_code", "exited_at", "pid", "reason", "restart", "signal", "started_at"]
    EXITED_AT_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    RESTART_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    exit_code: int
    exited_at: _timestamp_pb2.Timestamp
    pid: int
    reason: str
    restart: int
    signal: str
    started_at: _timestamp_pb2.Timestamp
    def __init__(self, restart: _Optional[int] = ..., pid: _Optional[int] = ..., started_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., exited_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., exit_code: _Optional[int] = ..., signal: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class PathHop(_message.Message):
    __slots__ = ["cost", "entity_id", "entity_type", "input", "kind", "media_type", "module", "output"]
    COST_FIELD_NUMBER: _ClassVar[int]
    ENTITY_ID_FIELD_NUMBER: _ClassVar[int]
    ENTITY_TYPE_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    MEDIA_TYPE_FIELD_NUMBER: _ClassVar[int]
    MODULE_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    cost: float
    entity_id: str
    entity_type: str
    input: _media_pb2.MediaFormat
    kind: _media_pb2.EntityKind
    media_type: _media_pb2.MediaType
    module: str
    output: _media_pb2.MediaFormat
    def __init__(self, media_type: _Optional[_Union[_media_pb2.MediaType, str]] = ..., entity_id: _Optional[str] = ..., entity_type: _Optional[str] = ..., module: _Optional[str] = ..., kind: _Optional[_Union[_media_pb2.EntityKind, str]] = ..., input: _Optional[_Union[_media_pb2.MediaFormat, _Mapping]] = ..., output: _Optional[_Union[_media_pb2.MediaFormat, _Mapping]] = ..., cost: _Optional[float] = ...) -> None: ...

class QualityProfile(_message.Message):
    __slots__ = ["audio_bitrate_kbps", "framerate", "height", "max_bitrate_kbps", "preset", "width"]
    AUDIO_BITRATE_KBPS_FIELD_NUMBER: _ClassVar[int]
    FRAMERATE_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    MAX_BITRATE_KBPS_FIELD_NUMBER: _ClassVar[int]
    PRESET_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    audio_bitrate_kbps: int
    framerate: int
    height: int
    max_bitrate_kbps: int
    preset: QualityPreset
    width: int
    def __init__(self, preset: _Optional[_Union[QualityPreset, str]] = ..., max_bitrate_kbps: _Optional[int] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., framerate: _Optional[int] = ..., audio_bitrate_kbps: _Optional[int] = ...) -> None: ...

class ModuleState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class HealthState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class EntityState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class EntityOrigin(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class ConnectionRole(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class FlowState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class QualityPreset(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class HopState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class Severity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class MetricKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
