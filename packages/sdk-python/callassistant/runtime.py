"""`Module` and `run`: a module process from a class.

`run(module)` serves ModuleService, EntityService and PipelineService on
127.0.0.1:GRPC_PORT (GRPC_HOST and GRPC_TLS_* for a remote module), reports to the
orchestrator over the `Connect` stream, exits on end of standard input, on SIGTERM/SIGINT
and after the Shutdown RPC (gracefully, within a timeout), and exits 2 with one clear line
on a bad environment, 1 when it cannot listen.
"""

import asyncio
import dataclasses
import inspect
import os
import signal
import sys
import threading
from typing import Any, Callable, List, NoReturn, Optional, Tuple

import grpc

from . import structs
from .dispatch import CallContext, add_services
from .environment import ModuleEnv, ModuleEnvError, read_env, read_token
from .proto_types import HealthState
from .report_stream import ConnectTransport, UnaryTransport
from .reporter import EventReporter
from .sdk_log import LEVELS, Logger
from .stdio import guard_std_streams, watch_stdin, write_stderr
from .v1 import event_pb2, media_pb2, module_pb2, resources_pb2

#: The SDK name and version sent in `ModuleInfo.sdk`.
SDK_VERSION = "callassistant-sdk-python/0.1.0"

#: Time a module gets to stop after its standard input ends (the orchestrator is gone).
EOF_STOP_TIMEOUT = 1.5


class Module:
    """A module: subclass it, set the class attributes, write one method per RPC.

    Handlers are named after the RPC in snake_case (`create_entity(self, req, ctx)`) and may
    be plain methods or coroutines; EntityService and PipelineService methods without one
    answer UNIMPLEMENTED, ModuleService ones have defaults built from the attributes below.
    While the module runs, `self.env`, `self.events`, `self.log`, `self.config` and
    `self.port` are set.
    """

    #: The module's name; empty means MODULE_NAME from the environment.
    name: str = ""
    version: str = "0.0.0"
    description: str = ""
    #: The entity types it provides (see `capability()`).
    capabilities: List[media_pb2.EntityCapability] = []
    #: JSON Schema (draft 2020-12) of the module configuration; None when it takes none.
    config_schema: Optional[dict] = None
    #: True when the module cannot work before it gets a configuration.
    requires_config: bool = False

    #: Carries out the orchestrator's `drain` command (finish flows, take no new ones).
    #: None: the command answers "not supported".
    on_drain: Optional[Callable[[], Any]] = None
    #: Carries out the orchestrator's `reload` command (reload configuration, rescan).
    on_reload: Optional[Callable[[], Any]] = None

    # Set by serve().
    env: ModuleEnv
    events: EventReporter
    log: Logger = Logger()
    #: The latest accepted configuration, None before the first.
    config: Optional[dict] = None
    #: The port the server listens on.
    port: int = 0

    # -- hooks a module may override

    def on_start(self) -> Any:
        """Called once the server listens and reporting has started (e.g. to discover)."""

    def on_configure(self, config: dict, revision: int) -> Any:
        """Called by the default Configure with the new configuration. Raise
        `RpcError(Code.INVALID_ARGUMENT, "...")` to reject it (the previous one is kept)."""

    def on_shutdown(self, reason: str) -> Any:
        """Called once when the module stops (Shutdown, signal, end of stdin), after the server."""

    # -- health

    @property
    def health(self) -> Tuple[int, str]:
        """(state, message) as HealthCheck reports it now."""
        explicit = getattr(self, "_explicit_health", None)
        if explicit is not None:
            return explicit
        if self.requires_config and self.config is None:
            return HealthState.WAITING_FOR_CONFIG, "waiting for configuration"
        return HealthState.READY, ""

    def set_health(self, state: Optional[int], message: str = "") -> None:
        """Sets the state HealthCheck reports (e.g. DEGRADED with a reason) and reports it
        to the orchestrator at once. None returns to the automatic state:
        WAITING_FOR_CONFIG while a required configuration is missing, READY otherwise."""
        self._explicit_health = None if state is None else (HealthState(state), message)
        if getattr(self, "events", None) is not None and self.events.enabled:
            state_now, message_now = self.health
            self.events.status(state_now, message_now)

    # -- default ModuleService handlers

    def register_module(self, req: module_pb2.RegisterModuleRequest, ctx: CallContext):
        """RegisterModule: who the module is and what it offers."""
        return module_pb2.RegisterModuleResponse(
            info=resources_pb2.ModuleInfo(
                name=self.name or self.env.module_name,
                version=self.version,
                description=self.description,
                sdk=SDK_VERSION,
            ),
            capabilities=list(self.capabilities),
            config_schema=structs.to_struct(self.config_schema) if self.config_schema is not None else None,
            requires_config=self.requires_config,
        )

    def health_check(self, req, ctx: CallContext):
        """HealthCheck: the module's health."""
        state, message = self.health
        return module_pb2.HealthCheckResponse(state=state, message=message)

    async def configure(self, req: module_pb2.ConfigureRequest, ctx: CallContext):
        """Configure: `on_configure`, then the configuration is kept in `self.config`."""
        config = structs.from_struct(req.config)
        result = self.on_configure(config, req.revision)
        if inspect.isawaitable(result):
            await result
        self.config = config
        state, message = self.health
        return module_pb2.ConfigureResponse(state=state, message=message)

    def shutdown(self, req: module_pb2.ShutdownRequest, ctx: CallContext):
        """Shutdown: answers, then stops within the grace period (and exits the process)."""
        grace = req.grace_period.ToTimedelta().total_seconds() if req.HasField("grace_period") else 0
        grace = grace if grace > 0 else self._runtime.stop_timeout
        # Leave time for the exit itself before the orchestrator's SIGTERM.
        budget = max(0.1, grace - 0.25)
        reason = "Shutdown requested" + (f": {req.reason}" if req.reason else "")
        # After this handler returns, so the answer goes out before the server stops.
        asyncio.get_running_loop().call_later(0.01, self._runtime.request_exit, 0, reason, budget)
        return module_pb2.ShutdownResponse()

    # -- stopping

    def stop(self, reason: str = "stopped by the module", code: int = 0) -> "asyncio.Future":
        """Stops serving and reporting (and exits the process with `code` under `run`).
        Returns a future done once stopped."""
        return self._runtime.request_exit(code, reason, self._runtime.stop_timeout)

    async def wait_stopped(self) -> None:
        """Returns once the module has stopped serving."""
        await self._runtime.stopped


class _Runtime:
    """What serve() keeps for a running module."""

    def __init__(self, module: Module, server: grpc.aio.Server, own_process: bool, stop_timeout: float):
        self.module = module
        self.server = server
        self.own_process = own_process
        self.stop_timeout = stop_timeout
        loop = asyncio.get_running_loop()
        self.loop = loop
        self.stopped: asyncio.Future = loop.create_future()
        self.exit_code: asyncio.Future = loop.create_future()
        self._stopping: Optional[asyncio.Task] = None

    def request_exit(self, code: int, reason: str, timeout: float) -> "asyncio.Future":
        """Stops (once) within `timeout`; under `run`, then the process exits with `code`.
        Safe to call from any thread."""
        if not _on_loop(self.loop):
            self.loop.call_soon_threadsafe(self.request_exit, code, reason, timeout)
            return self.stopped
        if self._stopping is None:
            if self.own_process:
                _watchdog(timeout, code)
            self._stopping = self.loop.create_task(self._stop(code, reason, timeout))
        return self.stopped

    async def _stop(self, code: int, reason: str, timeout: float) -> None:
        module = self.module
        module.log.info(f"stopping: {reason}")
        try:
            await self.server.stop(max(0.05, timeout / 2))
        except Exception as err:  # noqa: BLE001
            module.log.warn(f"stopping the server failed: {err}")
        try:
            result = module.on_shutdown(reason)
            if inspect.isawaitable(result):
                await asyncio.wait_for(result, max(0.05, timeout / 4))
        except Exception as err:  # noqa: BLE001 - a failing hook must not stop the exit
            module.log.error(f"on_shutdown failed: {type(err).__name__}: {err}")
        await module.events.flush(min(1.0, max(0.05, timeout / 4)))
        await module.events.close()
        if not self.stopped.done():
            self.stopped.set_result(None)
        if not self.exit_code.done():
            self.exit_code.set_result(code)


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def _hard_exit(code: int) -> NoReturn:
    """Exits now: no waiting for other threads, no failing flush on a broken pipe."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001
            pass
    os._exit(code)


def _watchdog(timeout: float, code: int) -> None:
    """Exits the process after `timeout` seconds, whatever the event loop is doing."""

    def expire() -> None:
        write_stderr(f"<4>stop took longer than {timeout:g} s: exiting now")
        _hard_exit(code)

    timer = threading.Timer(timeout, expire)
    timer.daemon = True
    timer.start()


def _fail(own_process: bool, code: int, message: str, error: Exception, log: Logger) -> None:
    log.error(message)
    if own_process:
        _hard_exit(code)
    raise error


def _credentials(env: ModuleEnv) -> Optional[grpc.ServerCredentials]:
    """TLS for a remote module: GRPC_TLS_CERT and GRPC_TLS_KEY, and GRPC_TLS_CLIENT_CA to
    require client certificates signed by it (mutual TLS)."""
    if not env.tls_cert:
        return None

    def read(path: str, what: str) -> bytes:
        try:
            with open(path, "rb") as f:
                return f.read()
        except OSError as err:
            raise ModuleEnvError(f"cannot read the TLS {what} {path}: {err.strerror}") from None

    return grpc.ssl_server_credentials(
        [(read(env.tls_key, "private key (GRPC_TLS_KEY)"), read(env.tls_cert, "certificate (GRPC_TLS_CERT)"))],
        root_certificates=read(env.tls_client_ca, "client CA (GRPC_TLS_CLIENT_CA)") if env.tls_client_ca else None,
        require_client_auth=bool(env.tls_client_ca),
    )


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


async def serve(
    module: Module,
    *,
    environ: Optional[dict] = None,
    own_process: bool = True,
    stop_timeout: float = 5.0,
    report_transport: str = "connect",
    stdin_fd: int = 0,
    heartbeat: float = 5.0,
    log: Optional[Callable[[str], None]] = None,
) -> Module:
    """Starts `module` on the running event loop and returns it once it listens.

    `own_process=True` (what `run` uses): exits 2 on a bad environment, 1 when it cannot
    listen, and stops on end of stdin, SIGTERM/SIGINT and Shutdown. False (in-process
    tests) raises instead and never exits: stop it with `module.stop()`.
    `report_transport` is "connect" (the stream) or "unary" (one call per report);
    `heartbeat` is the stream's heartbeat interval in seconds; `log` receives the module's
    log lines (default: standard error); `stdin_fd` is what is watched for end of file.
    """
    if report_transport not in ("connect", "unary"):
        raise ValueError(f'report_transport must be "connect" or "unary", not "{report_transport}"')
    if own_process:
        guard_std_streams()
    logger = Logger(write=log or write_stderr)
    module.log = logger
    try:
        env = read_env(environ)
        if env.token_from_stdin:
            env = dataclasses.replace(env, token=read_token(stdin_fd))
        credentials = _credentials(env)
    except ModuleEnvError as err:
        _fail(own_process, 2, str(err), err, logger)
        raise  # not reached
    module.env = env
    loop = asyncio.get_running_loop()

    async def on_command(command: event_pb2.Command) -> Tuple[bool, str]:
        kind = command.WhichOneof("command")
        if kind == "set_log_level":
            level = command.set_log_level.level
            if level not in LEVELS:
                return False, f'unknown log level "{level}" (levels: {", ".join(LEVELS)})'
            logger.level = level
            logger.info(f"log level set to {level}")
            return True, f"log level is {level}"
        if kind in ("drain", "reload"):
            hook = module.on_drain if kind == "drain" else module.on_reload
            if hook is None:
                return False, f"this module does not support {kind}"
            result = hook()
            if inspect.isawaitable(result):
                await result
            return True, f"{kind} done"
        return False, "unknown command"

    transport = None
    if env.orchestrator_address:
        if report_transport == "unary":
            transport = UnaryTransport(env.orchestrator_address, env.token)
        else:
            transport = ConnectTransport(
                env.orchestrator_address, env.token, on_command=on_command, log=logger.log, heartbeat=heartbeat
            )
    module.events = EventReporter(transport, logger.log, loop)
    module.events.default_state = lambda: module.health[0]

    server = grpc.aio.server(
        options=[
            # Never share the port with another process (grpc's default is SO_REUSEPORT).
            ("grpc.so_reuseport", 0),
            ("grpc.max_receive_message_length", 16 * 1024 * 1024),
        ]
    )
    runtime = _Runtime(module, server, own_process, stop_timeout)
    module._runtime = runtime
    add_services(server, lambda name: getattr(module, name, None), lambda: module.name or env.module_name, logger.log)
    address = _host_port(env.grpc_host, env.grpc_port)
    try:
        port = server.add_secure_port(address, credentials) if credentials else server.add_insecure_port(address)
        if not port:
            raise RuntimeError("the address is in use or not available")
        await server.start()
    except Exception as err:  # noqa: BLE001 - grpc raises RuntimeError on a failed bind
        if transport is not None:
            await transport.close()
        message = f"cannot listen on {address}: {err}"
        _fail(own_process, 1, message, RuntimeError(message), logger)
    module.port = port
    logger.info(f"listening on {_host_port(env.grpc_host, port)}{' (TLS)' if credentials else ''}")
    if isinstance(transport, ConnectTransport):
        transport.start()

    if own_process:
        signalled = []

        def on_signal(sig: signal.Signals) -> None:
            if signalled:
                write_stderr(f"<4>{sig.name} again: exiting now")
                _hard_exit(1)
            signalled.append(sig)
            runtime.request_exit(0, f"received {sig.name}", stop_timeout)

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, on_signal, sig)

        def on_eof(reason: str) -> None:
            # From the reading thread: the watchdog starts here, so the process exits in
            # time even if the event loop is blocked.
            _watchdog(EOF_STOP_TIMEOUT + 0.1, 0)
            try:
                loop.call_soon_threadsafe(runtime.request_exit, 0, reason, EOF_STOP_TIMEOUT)
            except RuntimeError:
                pass  # the loop is closed: the module has stopped already

        watch_stdin(on_eof, stdin_fd)

    async def start_hook() -> None:
        try:
            result = module.on_start()
            if inspect.isawaitable(result):
                await result
        except Exception as err:  # noqa: BLE001
            logger.error(f"on_start failed: {type(err).__name__}: {err}")

    loop.create_task(start_hook())
    return module


def run(module: Module, **options: Any) -> NoReturn:
    """Runs `module` as the process: serves until stopped, then exits (0 when stopped by
    end of stdin, a signal or Shutdown). Options as for `serve`."""

    async def main() -> int:
        await serve(module, own_process=True, **options)
        return await module._runtime.exit_code

    try:
        code = asyncio.run(main())
    except KeyboardInterrupt:
        code = 1
    _hard_exit(code)

