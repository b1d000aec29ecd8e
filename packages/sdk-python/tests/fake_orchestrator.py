"""A real EventService on a loopback port, made with the generated stubs, that tests steer:
it checks the token, acknowledges (or not) what comes on `Connect`, drops streams, sends
commands, or has no `Connect` at all (UNIMPLEMENTED, as an older orchestrator)."""

import asyncio
import socket
import time
from typing import Callable, List, Optional

import grpc

from callassistant.v1 import event_pb2, event_pb2_grpc


def free_port() -> int:
    """A port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_for(predicate: Callable[[], object], timeout: float = 5.0, what: str = "condition"):
    """Polls `predicate` until it is truthy; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class FakeOrchestrator(event_pb2_grpc.EventServiceServicer):
    """The orchestrator's EventService, as far as a module sees it."""

    def __init__(self, token: str = "secret", connect: bool = True):
        self.token = token
        self.connect = connect
        #: Set to False to stop acknowledging stream messages.
        self.ack = True
        #: Every Connect message received, in order, over all streams.
        self.messages: List[event_pb2.ConnectRequest] = []
        #: Unary requests received: (method name, request).
        self.unary: List[tuple] = []
        #: The authorization metadata of every call.
        self.authorizations: List[str] = []
        #: How many streams were accepted.
        self.streams = 0
        self.last_sequence = 0
        self.event_ids = {}
        self._next_event_id = 100
        self._outbox: Optional[asyncio.Queue] = None
        self.server: Optional[grpc.aio.Server] = None
        self.address = ""

    async def start(self) -> "FakeOrchestrator":
        self.server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
        event_pb2_grpc.add_EventServiceServicer_to_server(self, self.server)
        port = self.server.add_insecure_port("127.0.0.1:0")
        await self.server.start()
        self.address = f"127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop(0)

    async def _check_token(self, context) -> None:
        auth = dict(context.invocation_metadata() or ()).get("authorization", "")
        self.authorizations.append(auth)
        if not auth:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing module token")
        if auth != f"Bearer {self.token}":
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, "not this module's token")

    def _event_id(self, sequence: int) -> int:
        if sequence not in self.event_ids:
            self._next_event_id += 1
            self.event_ids[sequence] = self._next_event_id
        return self.event_ids[sequence]

    # -- steering the current stream

    def send_command(self, command: event_pb2.Command) -> None:
        """Sends a command on the open stream."""
        assert self._outbox is not None, "no stream is open"
        self._outbox.put_nowait(event_pb2.ConnectResponse(command=command))

    def drop(self, code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE) -> None:
        """Ends the open stream with `code`."""
        if self._outbox is not None:
            self._outbox.put_nowait(code)

    @property
    def connected(self) -> bool:
        return self._outbox is not None

    def of_kind(self, kind: str) -> List[event_pb2.ConnectRequest]:
        """The stream messages carrying `kind` ("event", "heartbeat", ...)."""
        return [m for m in self.messages if m.WhichOneof("payload") == kind]

    # -- EventService

    async def Connect(self, request_iterator, context):
        await self._check_token(context)
        if not self.connect:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, "Method not found!")
        self.streams += 1
        outbox: asyncio.Queue = asyncio.Queue()
        self._outbox = outbox

        async def read() -> None:
            async for request in request_iterator:
                self.messages.append(request)
                if not self.ack:
                    continue
                event_id = 0
                if request.WhichOneof("payload") == "event":
                    event_id = self._event_id(request.sequence)
                # Repeats are acknowledged again (and otherwise ignored).
                self.last_sequence = max(self.last_sequence, request.sequence)
                outbox.put_nowait(
                    event_pb2.ConnectResponse(ack=event_pb2.Ack(sequence=request.sequence, event_id=event_id))
                )
            outbox.put_nowait(None)

        reader = asyncio.ensure_future(read())
        try:
            while True:
                item = await outbox.get()
                if item is None:
                    return
                if isinstance(item, grpc.StatusCode):
                    await context.abort(item, "dropped by the test")
                yield item
        finally:
            if self._outbox is outbox:
                self._outbox = None
            reader.cancel()

    async def ReportEvent(self, request, context):
        await self._check_token(context)
        self.unary.append(("ReportEvent", request))
        self._next_event_id += 1
        return event_pb2.ReportEventResponse(event_id=self._next_event_id)

    async def ReportStatus(self, request, context):
        await self._check_token(context)
        self.unary.append(("ReportStatus", request))
        return event_pb2.ReportStatusResponse()

    async def ReportMetrics(self, request, context):
        await self._check_token(context)
        self.unary.append(("ReportMetrics", request))
        return event_pb2.ReportMetricsResponse()
