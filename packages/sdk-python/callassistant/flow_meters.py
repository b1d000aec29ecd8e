"""`FlowMeters`: the `MediaMeter`s of the flows a module runs, reported to the orchestrator
about once a second while a flow is started (what `FlowStatus.media` asks of a module),
so that reporting media takes a meter per connection and side and nothing else.

    self.media = ca.FlowMeters(self, refresh=self._count)    # in __init__
    meter = self.media.meter(flow_id, connection_id, ca.MediaSide.SENT, codec="h264")
    self.media.start(flow_id)      # in StartFlow: counting from zero, reports at 1 Hz
    self.media.stop(flow_id)       # in StopFlow: no more reports
    self.media.forget(connection_id=...)  # in DisconnectEntities
    {"flow_id": ..., "media": self.media.stats(flow_id)}  # in GetFlowStatus answers

`refresh()`, when given, is called before each report and each `stats()`: the place to
copy totals kept elsewhere (a process's progress, a browser's report) into the meters.
"""

import asyncio
from typing import Any, Callable, Dict, List, Optional

from .media_meter import MediaMeter
from .v1 import media_pb2

#: How often the media of a started flow is reported (seconds).
REPORT_EVERY_S = 1.0


class FlowMeters:
    """The meters of every flow of a module, by flow and connection and side.

    `module` is the SDK Module (its `events` is read at report time); `every` the report
    period in seconds.
    """

    def __init__(self, module: Any, *, refresh: Optional[Callable[[], Any]] = None,
                 every: float = REPORT_EVERY_S):
        self._module = module
        self._refresh = refresh
        self._every = every
        # flow id -> {(connection id, side): MediaMeter}
        self._meters: Dict[str, Dict[tuple, MediaMeter]] = {}
        self._started: set = set()
        self._task: Optional[asyncio.Task] = None

    def meter(self, flow_id: str, connection_id: str, side: int, *, codec: str = "") -> MediaMeter:
        """The meter of one side of one connection of a flow, made on first use."""
        flow = self._meters.setdefault(flow_id, {})
        key = (connection_id, int(side))
        if key not in flow:
            flow[key] = MediaMeter(connection_id, side, codec=codec)
        elif codec:
            flow[key].codec = codec
        return flow[key]

    def meters(self, flow_id: str) -> List[MediaMeter]:
        """The meters of a flow (none when it has none)."""
        return list(self._meters.get(flow_id, {}).values())

    def started(self, flow_id: str) -> bool:
        """True while the flow's media is reported."""
        return flow_id in self._started

    def start(self, flow_id: str) -> None:
        """The flow started (StartFlow): its meters count from zero with a new `started_at`,
        and its media is reported every second until `stop`."""
        for m in self.meters(flow_id):
            m.reset()
        self._started.add(flow_id)
        self._ensure_task()

    def stop(self, flow_id: str) -> None:
        """The flow stopped (StopFlow): no more reports; the meters are kept."""
        self._started.discard(flow_id)

    def forget(self, flow_id: str = "", connection_id: str = "") -> None:
        """Drops the meters of a connection (DisconnectEntities), or of a whole flow."""
        if connection_id:
            for fid, flow in list(self._meters.items()):
                for key in [k for k in flow if k[0] == connection_id]:
                    del flow[key]
                if not flow and (not flow_id or fid == flow_id):
                    del self._meters[fid]
                    self._started.discard(fid)
        elif flow_id:
            self._meters.pop(flow_id, None)
            self._started.discard(flow_id)

    def stats(self, flow_id: str) -> List[media_pb2.MediaStats]:
        """The flow's `MediaStats` now (for GetFlowStatus and StartFlow answers); empty
        while it is not started."""
        if flow_id not in self._started:
            return []
        self._call_refresh()
        return [m.stats() for m in self.meters(flow_id)]

    def report(self) -> None:
        """Reports the media of every started flow now (one media-only status per flow)."""
        if not self._started:
            return
        self._call_refresh()
        events = getattr(self._module, "events", None)
        if events is None or not getattr(events, "enabled", True):
            return
        for flow_id in sorted(self._started):
            meters = self.meters(flow_id)
            if meters:
                events.media(flow_id, meters)

    def close(self) -> None:
        """Stops reporting for good."""
        self._started.clear()
        if self._task:
            self._task.cancel()
            self._task = None

    # -- inside ----------------------------------------------------------------------

    def _call_refresh(self) -> None:
        if self._refresh is None:
            return
        try:
            self._refresh()
        except Exception as err:  # noqa: BLE001 - a module's bug must not stop the reports
            log = getattr(self._module, "log", None)
            if log is not None:
                log.warn("media refresh failed", error=f"{type(err).__name__}: {err}")

    def _ensure_task(self) -> None:
        if self._task and not self._task.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # not on a loop (a unit test): `report()` is called by hand
        self._task = loop.create_task(self._loop())

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._every)
            self.report()
