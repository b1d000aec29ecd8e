"""W3C Trace Context (`traceparent`) of the call a module is handling.

The SDK opens a scope per call from the orchestrator: the caller's trace continues in a new
span, visible to the handler (`ctx.traceparent`), to the events it reports and to its log
lines. The scope closes when the call is answered, so tasks a handler happened to start do
not carry its trace forever afterwards.
"""

import contextvars
import re
import secrets
from dataclasses import dataclass
from typing import Optional

_HEX = re.compile(r"^[0-9a-f]+$")


@dataclass(frozen=True)
class TraceContext:
    """One span of a trace, as `traceparent` carries it."""

    trace_id: str
    span_id: str
    flags: int = 1

    @property
    def traceparent(self) -> str:
        """The `traceparent` header value of this span."""
        return f"00-{self.trace_id}-{self.span_id}-{self.flags & 0xFF:02x}"


class _Scope:
    """The trace of one call, open while the call is handled."""

    __slots__ = ("trace", "open")

    def __init__(self, trace: Optional[TraceContext]):
        self.trace = trace
        self.open = True


_scope: contextvars.ContextVar[Optional[_Scope]] = contextvars.ContextVar("callassistant_trace", default=None)


def parse_traceparent(value: Optional[str]) -> Optional[TraceContext]:
    """Parses a `traceparent` value; None when absent or invalid (W3C rules, version 00)."""
    if not value:
        return None
    v = value.strip()
    if len(v) < 55:
        return None
    version = v[:2]
    if not _HEX.match(version) or version == "ff":
        return None
    if (len(v) != 55) if version == "00" else (len(v) > 55 and v[55] != "-"):
        return None
    if v[2] != "-" or v[35] != "-" or v[52] != "-":
        return None
    trace_id, span_id, flags = v[3:35], v[36:52], v[53:55]
    if not all(_HEX.match(x) for x in (trace_id, span_id, flags)):
        return None
    if trace_id == "0" * 32 or span_id == "0" * 16:
        return None
    return TraceContext(trace_id, span_id, int(flags, 16))


def child_of(parent: Optional[TraceContext]) -> TraceContext:
    """A new span in the trace of `parent`, or the first span of a new sampled trace."""
    span = secrets.token_hex(8)
    if parent is not None:
        return TraceContext(parent.trace_id, span, parent.flags)
    return TraceContext(secrets.token_hex(16), span, 1)


def current_trace() -> Optional[TraceContext]:
    """The trace of the call being handled, while it is handled; else None."""
    scope = _scope.get()
    return scope.trace if scope is not None and scope.open else None


def current_traceparent() -> str:
    """The `traceparent` of the call being handled, or ""."""
    trace = current_trace()
    return trace.traceparent if trace else ""


def current_trace_id() -> str:
    """The trace id of the call being handled, or ""."""
    trace = current_trace()
    return trace.trace_id if trace else ""


def open_scope(trace: Optional[TraceContext]):
    """Enters `trace` in the current context; returns what `close_scope` needs."""
    scope = _Scope(trace)
    return scope, _scope.set(scope)


def close_scope(handle) -> None:
    """Closes a scope from `open_scope` (tasks that copied it no longer see its trace)."""
    scope, token = handle
    scope.open = False
    try:
        _scope.reset(token)
    except ValueError:
        pass  # reset from another context: closing it is enough
