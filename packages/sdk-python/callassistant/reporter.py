"""`EventReporter`: a module's events, status and metrics to the orchestrator.

Every method sends in the background and returns at once a future the caller may await
(or ignore): the event id, or True when accepted; None or False when the report could not be
delivered. Reports never raise into the module: failures are logged (repeated failures are
summarised). The methods may be called from the event loop or from any other thread (a
GStreamer or worker thread); from another thread the future is a concurrent.futures.Future.

An event reported while the module handles a call from the orchestrator carries that
call's `traceparent`, so the event has the trace id of the request that caused it.
"""

import asyncio
import concurrent.futures
import time
from collections.abc import Mapping
from typing import Any, Callable, Iterable, Optional, Union

from . import structs
from .report_stream import to_rpc_error
from .tracing import current_traceparent
from .v1 import event_pb2, media_pb2, resources_pb2

#: Severity names accepted besides the enum values.
SEVERITIES = {
    "debug": resources_pb2.SEVERITY_DEBUG,
    "info": resources_pb2.SEVERITY_INFO,
    "warning": resources_pb2.SEVERITY_WARNING,
    "warn": resources_pb2.SEVERITY_WARNING,
    "error": resources_pb2.SEVERITY_ERROR,
    "critical": resources_pb2.SEVERITY_CRITICAL,
}

#: How long repeated failures are summarised instead of logged one by one (seconds).
QUIET = 30.0


def _severity(value: Union[int, str]) -> int:
    if isinstance(value, str):
        if value.lower() not in SEVERITIES:
            raise ValueError(f'unknown severity "{value}" (severities: debug, info, warning, error, critical)')
        return SEVERITIES[value.lower()]
    return int(value)


def _metrics(samples: Union[Mapping, Iterable]) -> list:
    """Metric messages from `{name: value}` or a list of Metric / dicts."""
    if isinstance(samples, Mapping):
        return [resources_pb2.Metric(name=str(k), value=float(v)) for k, v in samples.items()]
    return [structs.build(resources_pb2.Metric, s) for s in samples]


class EventReporter:
    """Sends a module's reports; see the module documentation."""

    def __init__(self, transport, log: Callable[[str, str], None], loop: asyncio.AbstractEventLoop):
        self._transport = transport
        self._log = log
        self._loop = loop
        self._pending: "set[asyncio.Future]" = set()
        self._closed = False
        self._warned_disabled = False
        self._failures = 0
        self._suppressed = 0
        self._last_failure_log = 0.0
        #: Called with no argument to learn the module's health state, for `status()`.
        self.default_state: Callable[[], int] = lambda: resources_pb2.HEALTH_STATE_UNSPECIFIED

    @property
    def enabled(self) -> bool:
        """True when reports go somewhere (ORCHESTRATOR_ADDRESS was set) and not closed."""
        return self._transport is not None and not self._closed

    def report(
        self,
        type: str,
        message: str = "",
        *,
        entity_id: str = "",
        flow_id: str = "",
        data: Optional[Mapping] = None,
        severity: Union[int, str] = "info",
        traceparent: Optional[str] = None,
    ):
        """Reports an event of a dotted `type` (e.g. "camera.motion").

        `severity` is a Severity or "debug", "info", "warning", "error", "critical"; `data`
        a JSON object; `traceparent` defaults to the one of the call being handled. The
        future gives the event id, or None when it could not be delivered.
        """
        request = event_pb2.ReportEventRequest(
            type=type,
            severity=_severity(severity),
            message=message,
            entity_id=entity_id,
            flow_id=flow_id,
            data=structs.to_struct(data) if data is not None else None,
            traceparent=current_traceparent() if traceparent is None else traceparent,
        )
        return self._submit(f'event "{type}"', lambda t: t.report_event(request), None)

    def status(
        self,
        state: Optional[int] = None,
        message: str = "",
        *,
        entities: Iterable = (),
        flows: Iterable = (),
    ):
        """Reports the module's state (default: its current health) and the entities and
        flows that changed (EntityStatus / FlowStatus messages or dicts); also confirms an
        AdjustQuality. The future gives True when the orchestrator accepted it."""
        request = event_pb2.ReportStatusRequest(
            state=self.default_state() if state is None else int(state),
            message=message,
            entities=[structs.build(resources_pb2.EntityStatus, e) for e in entities],
            flows=[structs.build(resources_pb2.FlowStatus, f) for f in flows],
        )

        async def send(t):
            await t.report_status(request)
            return True

        return self._submit("status", send, False)

    def media(self, flow_id: str, stats: Iterable):
        """Reports the media this module measures on a flow: one MediaStats (a message, a
        dict, or a `MediaMeter`, whose `stats()` is taken) per connection and side, about
        once a second while the flow runs. It is a media-only status report: the module's
        state, message and quality for the flow stand. Entries without a connection id or
        side are left out (and logged); with none left nothing is sent. The future gives
        True when the orchestrator accepted it."""
        media = []
        for s in stats:
            entry = s.stats() if hasattr(s, "stats") and callable(s.stats) else structs.build(media_pb2.MediaStats, s)
            if not entry.connection_id or not entry.side:
                self._log("warn", f'media stats of flow "{flow_id}" without a connection id or side: left out')
                continue
            media.append(entry)
        if not flow_id or not media:
            return self._done(False)
        request = event_pb2.ReportStatusRequest(
            state=self.default_state(), flows=[resources_pb2.FlowStatus(flow_id=flow_id, media=media)]
        )

        async def send(t):
            await t.report_status(request)
            return True

        return self._submit(f'media of flow "{flow_id}"', send, False)

    def metrics(self, samples: Union[Mapping, Iterable]):
        """Reports metric samples: `{"name": value}` (gauges) or a list of Metric messages
        or dicts `{name, value, labels, kind, help}`. The future gives True when accepted."""
        request = event_pb2.ReportMetricsRequest(metrics=_metrics(samples))

        async def send(t):
            await t.report_metrics(request)
            return True

        return self._submit(f"{len(request.metrics)} metric(s)", send, False)

    def _done(self, value: Any):
        """A future already holding `value`, of the kind `_submit` gives from here."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not None:
            future = running.create_future()
        else:
            future = concurrent.futures.Future()
        future.set_result(value)
        return future

    async def flush(self, timeout: float = 2.0) -> None:
        """Waits (at most `timeout` seconds) for the reports in flight."""
        if self._pending:
            await asyncio.wait(set(self._pending), timeout=timeout)

    async def close(self) -> None:
        """Stops reporting and releases the connection; later reports are undelivered."""
        if self._closed:
            return
        self._closed = True
        if self._transport is not None:
            await self._transport.close()

    def _submit(self, what: str, send: Callable[[Any], Any], failed: Any):
        """Runs `send(transport)` on the loop; a future of its result (`failed` on failure)."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        coro = self._deliver(what, send, failed)
        if running is self._loop:
            task = self._loop.create_task(coro)
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)
            return task
        if self._loop.is_closed():
            coro.close()  # the module has stopped: nothing is sent
            future: concurrent.futures.Future = concurrent.futures.Future()
            future.set_result(failed)
            return future
        return asyncio.run_coroutine_threadsafe(self._tracked(coro), self._loop)

    async def _tracked(self, coro):
        task = asyncio.ensure_future(coro)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        return await task

    async def _deliver(self, what: str, send, failed):
        transport = self._transport
        if transport is None or self._closed:
            if transport is None and not self._warned_disabled:
                self._warned_disabled = True
                self._log("warn", "ORCHESTRATOR_ADDRESS is not set: events, status and metrics are not reported")
            return failed
        try:
            value = await send(transport)
        except Exception as err:  # noqa: BLE001 - a report never raises into the module
            self._failed(what, err)
            return failed
        self._succeeded()
        return value

    def _succeeded(self) -> None:
        if self._failures == 0:
            return
        self._log("info", f"reports to the orchestrator work again ({self._failures} failed before)")
        self._failures = 0
        self._suppressed = 0
        self._last_failure_log = 0.0

    def _failed(self, what: str, err: BaseException) -> None:
        self._failures += 1
        now = time.monotonic()
        if self._last_failure_log and now - self._last_failure_log < QUIET:
            self._suppressed += 1
            return
        rpc = to_rpc_error(err)
        more = f" ({self._suppressed} more failed since last logged)" if self._suppressed else ""
        self._log("warn", f"cannot report {what} to the orchestrator: {rpc.code.name}: {rpc.message}{more}")
        self._last_failure_log = now
        self._suppressed = 0
