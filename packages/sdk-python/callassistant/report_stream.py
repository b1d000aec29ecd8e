"""How reports reach the orchestrator's EventService.

- `ConnectTransport` (what `serve` uses): the bidirectional `Connect` stream. Every message
  has a sequence number (from 1, increasing per process); a report completes when the
  orchestrator acknowledges it (an ack covers every message up to its sequence number).
  Heartbeats go every `heartbeat` seconds (the orchestrator wants one per 10 s). When the
  stream breaks, the transport reconnects with exponential backoff and jitter and resends,
  in order and with their first sequence numbers, every message not acknowledged (the
  orchestrator acknowledges repeats again and ignores them). Commands from the orchestrator
  go to a handler and are answered with a `CommandResult`. An orchestrator without `Connect`
  (UNIMPLEMENTED) is served with unary calls instead.
- `UnaryTransport`: one unary call per report (ReportEvent, ReportStatus, ReportMetrics).

Both send the module token as `authorization: Bearer <token>`.
"""

import asyncio
import collections
import random
from typing import Awaitable, Callable, Optional, Tuple, Union

import grpc

from .rpc_error import RpcError
from .v1 import event_pb2, event_pb2_grpc

#: A command handler: gets the Command, returns (ok, message).
CommandHandler = Callable[[event_pb2.Command], Union[Tuple[bool, str], Awaitable[Tuple[bool, str]]]]

#: Channel options: reports up to 16 MiB (as the orchestrator accepts).
CHANNEL_OPTIONS = [("grpc.max_send_message_length", 16 * 1024 * 1024)]


def _metadata(token: str):
    return (("authorization", f"Bearer {token}"),) if token else ()


def to_rpc_error(err: BaseException) -> RpcError:
    """An RpcError from any failure of a call."""
    if isinstance(err, RpcError):
        return err
    if isinstance(err, grpc.aio.AioRpcError):
        return RpcError(err.code(), err.details() or "")
    if isinstance(err, asyncio.TimeoutError):
        return RpcError(grpc.StatusCode.DEADLINE_EXCEEDED, "timed out")
    return RpcError(grpc.StatusCode.UNKNOWN, f"{type(err).__name__}: {err}")


class UnaryTransport:
    """One unary EventService call per report, with the token and a deadline."""

    def __init__(self, address: str, token: str, timeout: float = 5.0, channel: Optional[grpc.aio.Channel] = None):
        self._channel = channel or grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS)
        self._own_channel = channel is None
        self._stub = event_pb2_grpc.EventServiceStub(self._channel)
        self._metadata = _metadata(token)
        self._timeout = timeout

    async def report_event(self, request: event_pb2.ReportEventRequest) -> int:
        """Sends an event; returns the id the orchestrator gave it."""
        response = await self._stub.ReportEvent(request, metadata=self._metadata, timeout=self._timeout)
        return response.event_id

    async def report_status(self, request: event_pb2.ReportStatusRequest) -> None:
        """Sends a status report."""
        await self._stub.ReportStatus(request, metadata=self._metadata, timeout=self._timeout)

    async def report_metrics(self, request: event_pb2.ReportMetricsRequest) -> None:
        """Sends metric samples."""
        await self._stub.ReportMetrics(request, metadata=self._metadata, timeout=self._timeout)

    async def close(self) -> None:
        """Releases the channel."""
        if self._own_channel:
            await self._channel.close()


class _Pending:
    """A message sent (or to send) and not acknowledged yet, with its caller's future."""

    __slots__ = ("sequence", "request", "future")

    def __init__(self, sequence: int, request: event_pb2.ConnectRequest, future: asyncio.Future):
        self.sequence = sequence
        self.request = request
        self.future = future

    def ok(self, value) -> None:
        if not self.future.done():
            self.future.set_result(value)

    def fail(self, err: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(err)


def _retrieve(future: asyncio.Future) -> None:
    # A failure nobody awaited is not an "exception was never retrieved" warning.
    if not future.cancelled():
        future.exception()


class ConnectTransport:
    """Reports over the EventService `Connect` stream; see the module documentation.

    Must be created and used on the event loop that runs it.
    """

    def __init__(
        self,
        address: str,
        token: str,
        *,
        on_command: Optional[CommandHandler] = None,
        log: Optional[Callable[[str, str], None]] = None,
        heartbeat: float = 5.0,
        backoff_initial: float = 0.2,
        backoff_max: float = 10.0,
        ack_timeout: float = 30.0,
        max_pending: int = 10_000,
    ):
        self._address = address
        self._token = token
        self._on_command = on_command
        self._log = log or (lambda level, line: None)
        self._heartbeat = heartbeat
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._ack_timeout = ack_timeout
        self._max_pending = max_pending
        self._channel = grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS)
        self._stub = event_pb2_grpc.EventServiceStub(self._channel)
        self._sequence = 0
        self._unacked: "collections.deque[_Pending]" = collections.deque()
        self._outbox: Optional[asyncio.Queue] = None
        self._task: Optional[asyncio.Task] = None
        self._closed = False
        self._fallback: Optional[UnaryTransport] = None
        #: How many streams were opened (1 + reconnects).
        self.connects = 0
        #: True while a stream is open and has answered.
        self.connected = False

    @property
    def pending(self) -> int:
        """Messages waiting for an acknowledgement."""
        return len(self._unacked)

    @property
    def unary(self) -> bool:
        """True once the transport fell back to unary calls."""
        return self._fallback is not None

    def start(self) -> None:
        """Opens the stream now (a report opens it otherwise)."""
        if self._task is None and not self._closed and self._fallback is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="callassistant-connect")

    async def report_event(self, request: event_pb2.ReportEventRequest) -> int:
        """Sends an event; returns its event id once acknowledged."""
        if self._fallback:
            return await self._fallback.report_event(request)
        return await self._send(event_pb2.ConnectRequest(event=request))

    async def report_status(self, request: event_pb2.ReportStatusRequest) -> None:
        """Sends a status report; returns once acknowledged."""
        if self._fallback:
            return await self._fallback.report_status(request)
        await self._send(event_pb2.ConnectRequest(status=request))

    async def report_metrics(self, request: event_pb2.ReportMetricsRequest) -> None:
        """Sends metric samples; returns once acknowledged."""
        if self._fallback:
            return await self._fallback.report_metrics(request)
        await self._send(event_pb2.ConnectRequest(metrics=request))

    async def close(self) -> None:
        """Stops: cancels the stream; what waits for an ack fails with CANCELLED."""
        if self._closed:
            return
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
        err = RpcError(grpc.StatusCode.CANCELLED, "the reporter was closed")
        for p in self._unacked:
            p.fail(err)
        self._unacked.clear()
        if self._fallback is not None:
            await self._fallback.close()
        await self._channel.close()

    def _next_sequence(self) -> int:
        self._sequence += 1
        return self._sequence

    def _queue(self, request: event_pb2.ConnectRequest) -> asyncio.Future:
        """Numbers `request`, keeps it until acknowledged, writes it if a stream is open."""
        if self._closed:
            raise RpcError(grpc.StatusCode.CANCELLED, "the reporter was closed")
        request.sequence = self._next_sequence()
        future = asyncio.get_running_loop().create_future()
        future.add_done_callback(_retrieve)
        self._unacked.append(_Pending(request.sequence, request, future))
        if len(self._unacked) > self._max_pending:
            self._unacked.popleft().fail(
                RpcError(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    f"more than {self._max_pending} reports wait for the orchestrator: the oldest was dropped",
                )
            )
        if self._outbox is not None:
            self._outbox.put_nowait(request)
        self.start()
        return future

    async def _send(self, request: event_pb2.ConnectRequest):
        future = self._queue(request)
        try:
            return await asyncio.wait_for(asyncio.shield(future), self._ack_timeout)
        except asyncio.TimeoutError:
            state = "connected" if self.connected else "not connected"
            raise RpcError(
                grpc.StatusCode.DEADLINE_EXCEEDED,
                f"not acknowledged within {self._ack_timeout:g} s ({state}; kept for resending)",
            ) from None

    async def _run(self) -> None:
        attempt = 0
        while not self._closed:
            failure: Optional[BaseException] = None
            call = self._stub.Connect(metadata=_metadata(self._token))
            self.connects += 1
            outbox: asyncio.Queue = asyncio.Queue()
            # Everything not acknowledged, in order, before anything new.
            for p in self._unacked:
                outbox.put_nowait(p.request)
            outbox.put_nowait(event_pb2.ConnectRequest(sequence=self._next_sequence(), heartbeat=event_pb2.Heartbeat()))
            self._outbox = outbox
            writer = asyncio.ensure_future(self._write(call, outbox))
            beats = asyncio.ensure_future(self._beat(outbox))
            try:
                async for response in call:
                    if not self.connected:
                        self.connected = True
                        if attempt > 0:
                            self._log("info", "event stream to the orchestrator is back")
                        attempt = 0
                    self._on_response(response)
            except grpc.aio.AioRpcError as err:
                failure = err
            except asyncio.CancelledError:
                raise
            except Exception as err:  # noqa: BLE001 - any other failure is a broken stream
                failure = err
            finally:
                self._outbox = None
                self.connected = False
                writer.cancel()
                beats.cancel()
                call.cancel()
            if self._closed:
                return
            code = failure.code() if isinstance(failure, grpc.aio.AioRpcError) else None
            if code == grpc.StatusCode.UNIMPLEMENTED:
                await self._use_unary()
                return
            if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
                # The token will not become valid: nothing queued can be delivered.
                err = to_rpc_error(failure)
                for p in self._unacked:
                    p.fail(err)
                self._unacked.clear()
            base = min(self._backoff_max, self._backoff_initial * 2**attempt)
            delay = base / 2 + random.random() * base / 2
            if attempt % 10 == 0:
                why = f"{code.name}: {failure.details()}" if code else (
                    f"{type(failure).__name__}: {failure}" if failure else "closed by the orchestrator"
                )
                self._log(
                    "warn",
                    f"event stream to the orchestrator ended ({why}); reconnecting in "
                    f"{delay * 1000:.0f} ms with {len(self._unacked)} report(s) to resend",
                )
            attempt += 1
            await asyncio.sleep(delay)

    async def _write(self, call, outbox: asyncio.Queue) -> None:
        try:
            while True:
                await call.write(await outbox.get())
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - the stream broke: the reader sees why
            pass

    async def _beat(self, outbox: asyncio.Queue) -> None:
        while True:
            await asyncio.sleep(self._heartbeat)
            outbox.put_nowait(event_pb2.ConnectRequest(sequence=self._next_sequence(), heartbeat=event_pb2.Heartbeat()))

    def _on_response(self, response: event_pb2.ConnectResponse) -> None:
        kind = response.WhichOneof("payload")
        if kind == "ack":
            ack = response.ack
            # Every message up to the acknowledged one was received.
            while self._unacked and self._unacked[0].sequence <= ack.sequence:
                p = self._unacked.popleft()
                if p.sequence != ack.sequence:
                    p.ok(None)
                elif ack.error:
                    p.fail(RpcError.from_ack_error(ack.error))
                else:
                    p.ok(ack.event_id if p.request.WhichOneof("payload") == "event" else None)
        elif kind == "command":
            asyncio.ensure_future(self._run_command(response.command))

    async def _run_command(self, command: event_pb2.Command) -> None:
        try:
            if self._on_command is None:
                ok, message = False, "this module does not take commands"
            else:
                result = self._on_command(command)
                if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
                    result = await result
                ok, message = result
        except Exception as err:  # noqa: BLE001 - a failed command is answered, not raised
            ok, message = False, str(err) or type(err).__name__
        if self._closed:
            return
        result = event_pb2.CommandResult(command_id=command.command_id, ok=bool(ok), message=message or "")
        try:
            await self._send(event_pb2.ConnectRequest(command_result=result))
        except RpcError:
            pass

    async def _use_unary(self) -> None:
        """Switches to unary calls and sends what waits, in order."""
        self._log("info", "the orchestrator has no EventService.Connect: reporting with unary calls")
        self._fallback = UnaryTransport(self._address, self._token, channel=self._channel)
        waiting = list(self._unacked)
        self._unacked.clear()
        for p in waiting:
            kind = p.request.WhichOneof("payload")
            try:
                if kind == "event":
                    p.ok(await self._fallback.report_event(p.request.event))
                elif kind == "status":
                    p.ok(await self._fallback.report_status(p.request.status))
                elif kind == "metrics":
                    p.ok(await self._fallback.report_metrics(p.request.metrics))
                else:
                    p.ok(None)  # a command result: commands need the stream
            except Exception as err:  # noqa: BLE001
                p.fail(to_rpc_error(err))
