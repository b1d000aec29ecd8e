"""Serving a module's handlers over gRPC: one handler per RPC, found on the module by its
snake_case name (`CreateEntity` -> `create_entity`). A handler gets the request and a
`CallContext` and returns the response (a message, a dict, or None for an empty one); it
may be a plain function or a coroutine. A missing handler answers UNIMPLEMENTED, an
`RpcError` its code and message, any other exception INTERNAL (logged with its traceback).
"""

import inspect
import re
import time
import traceback
from typing import Any, Callable, Dict, Optional

import grpc

from . import structs
from .rpc_error import RpcError
from .tracing import TraceContext, child_of, close_scope, open_scope, parse_traceparent
from .v1 import entity_pb2, entity_pb2_grpc, module_pb2, module_pb2_grpc, pipeline_pb2, pipeline_pb2_grpc

#: The services a module serves: (messages, stubs, service name).
SERVICES = (
    (module_pb2, module_pb2_grpc, "ModuleService"),
    (entity_pb2, entity_pb2_grpc, "EntityService"),
    (pipeline_pb2, pipeline_pb2_grpc, "PipelineService"),
)


def snake_case(name: str) -> str:
    """`CreateEntity` -> `create_entity`."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class CallContext:
    """What a handler knows about the call besides the request."""

    def __init__(self, context: grpc.aio.ServicerContext, method: str, trace: TraceContext, metadata: Dict[str, str]):
        #: The full method, e.g. "/callassistant.v1.EntityService/CreateEntity".
        self.method = method
        #: This call's span: the caller's trace continued (or a new one).
        self.trace = trace
        #: The raw grpc.aio servicer context.
        self.grpc = context
        #: The call's text metadata (lower-case keys; the last value of a repeated key).
        self.metadata = metadata
        self._deadline: Optional[float] = None
        remaining = context.time_remaining()
        if remaining is not None:
            self._deadline = time.monotonic() + remaining

    @property
    def traceparent(self) -> str:
        """The W3C `traceparent` of this call's span (events reported during it carry it)."""
        return self.trace.traceparent

    @property
    def trace_id(self) -> str:
        """The trace id of this call."""
        return self.trace.trace_id

    def time_remaining(self) -> Optional[float]:
        """Seconds left before the caller's deadline, or None without one."""
        return None if self._deadline is None else max(0.0, self._deadline - time.monotonic())


def _unimplemented(service: str, method: str, module_name: str):
    async def handler(request, context):
        await context.abort(
            grpc.StatusCode.UNIMPLEMENTED, f"{service}.{method} is not implemented by module {module_name}"
        )

    return handler


def _wrap(service: str, method, response_cls, handler: Callable, log: Callable[[str, str], None]):
    full = f"/callassistant.v1.{service}/{method.name}"

    async def call(request, context: grpc.aio.ServicerContext):
        metadata = {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
        trace = child_of(parse_traceparent(metadata.get("traceparent")))
        ctx = CallContext(context, full, trace, metadata)
        scope = open_scope(trace)
        try:
            result = handler(request, ctx)
            if inspect.isawaitable(result):
                result = await result
            return structs.build(response_cls, result)
        except RpcError as err:
            await context.abort(err.code, err.message)
        except grpc.aio.AbortError:
            raise
        except Exception as err:  # noqa: BLE001 - any bug becomes INTERNAL, never a crash
            log("error", f"internal error in {method.name}: {''.join(traceback.format_exception(err)).rstrip()}")
            message = f"internal error in {method.name}: {type(err).__name__}: {err}"
            await context.abort(grpc.StatusCode.INTERNAL, message)
        finally:
            close_scope(scope)

    return call


def add_services(server: grpc.aio.Server, find: Callable[[str], Any], module_name: Callable[[], str], log) -> None:
    """Adds the three services to `server`; `find(snake_name)` returns a handler or None."""
    for pb2, stubs, service in SERVICES:
        methods = pb2.DESCRIPTOR.services_by_name[service].methods
        servicer = type(f"{service}Handlers", (), {})()
        for method in methods:
            handler = find(snake_case(method.name))
            response_cls = getattr(pb2, method.output_type.name)
            setattr(
                servicer,
                method.name,
                _wrap(service, method, response_cls, handler, log)
                if handler is not None
                else _unimplemented(service, method.name, module_name()),
            )
        getattr(stubs, f"add_{service}Servicer_to_server")(servicer, server)

