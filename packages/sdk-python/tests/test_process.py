"""A module as a real process (/usr/bin/python3), as the orchestrator runs it: end of stdin,
signals, Shutdown, a bad environment, the token on stdin, and a broken stderr pipe."""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

import grpc

from callassistant.v1 import entity_pb2, entity_pb2_grpc, module_pb2, module_pb2_grpc
from tests.fake_orchestrator import FakeOrchestrator, free_port, wait_for

SDK_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE = os.path.join(SDK_DIR, "tests", "fixture_module.py")
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable


class ModuleProcess:
    """The fixture module running as a process; stderr lines collected in the background."""

    def __init__(self, env: dict, stdin=subprocess.PIPE, read_stderr: bool = True):
        port = env.get("GRPC_PORT") or ""
        self.port = int(port) if port.isdigit() else 0
        base = {k: v for k, v in os.environ.items() if not k.startswith(("GRPC_", "MODULE_", "ORCHESTRATOR_"))}
        full = {**base, "PYTHONPATH": SDK_DIR, **{k: v for k, v in env.items() if v is not None}}
        self.proc = subprocess.Popen([PYTHON, FIXTURE], env=full, stdin=stdin, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        self.lines = []
        if read_stderr:
            threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for raw in self.proc.stderr:
            self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_line(self, text: str, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if text in line:
                    return line
            if self.proc.poll() is not None and not any(text in line for line in self.lines):
                time.sleep(0.1)  # the last lines may still be read
                if not any(text in line for line in self.lines):
                    raise AssertionError(f"exited ({self.proc.returncode}) before {text!r}:\n{self.output}")
            time.sleep(0.02)
        raise AssertionError(f"no line with {text!r} within {timeout} s:\n{self.output}")

    def wait_exit(self, timeout: float = 10.0) -> int:
        return self.proc.wait(timeout)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        for stream in (self.proc.stdin, self.proc.stderr):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass


def health(port: int):
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        return module_pb2_grpc.ModuleServiceStub(channel).HealthCheck(module_pb2.HealthCheckRequest(), timeout=5)


class ProcessTest(unittest.TestCase):
    def start(self, **env) -> ModuleProcess:
        env.setdefault("GRPC_PORT", str(free_port()))
        p = ModuleProcess(env)
        self.addCleanup(p.close)
        p.wait_line(f"listening on 127.0.0.1:{env['GRPC_PORT']}")
        return p

    def test_end_of_stdin_exits_0(self):
        p = self.start()
        p.proc.stdin.close()
        self.assertEqual(p.wait_exit(), 0, p.output)
        self.assertIn("<6>stopping: standard input reached end of file (the orchestrator is gone)", p.lines)
        self.assertIn("<6>on_shutdown ran", p.lines)
        self.assertNotIn("took longer", p.output)

    def test_signals_exit_0(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            with self.subTest(signal=sig.name):
                p = self.start()
                health(p.port)  # a connected client must not hold the exit up
                p.proc.send_signal(sig)
                self.assertEqual(p.wait_exit(), 0, p.output)
                self.assertIn(f"<6>stopping: received {sig.name}", p.lines)
                self.assertNotIn("took longer", p.output)

    def test_shutdown_rpc_answers_then_exits_0(self):
        p = self.start()
        with grpc.insecure_channel(f"127.0.0.1:{p.port}") as channel:
            module_pb2_grpc.ModuleServiceStub(channel).Shutdown(module_pb2.ShutdownRequest(reason="test over"), timeout=5)
        self.assertEqual(p.wait_exit(), 0, p.output)
        self.assertIn("<6>stopping: Shutdown requested: test over", p.lines)

    def test_stdin_that_is_not_a_pipe_is_not_watched(self):
        port = free_port()
        with open(os.devnull) as null:
            p = ModuleProcess({"GRPC_PORT": str(port)}, stdin=null)
        self.addCleanup(p.close)
        p.wait_line("listening on")
        for _ in range(5):
            self.assertEqual(health(port).state, 3)
        self.assertIsNone(p.proc.poll())
        p.proc.terminate()
        self.assertEqual(p.wait_exit(), 0)

    def test_bad_environment_exits_2_with_one_clear_line(self):
        for env, message in [
            ({"GRPC_PORT": None}, "<3>GRPC_PORT is not set"),
            ({"GRPC_PORT": "http"}, '<3>GRPC_PORT="http" is not a port number'),
            ({"GRPC_PORT": "5000", "GRPC_TLS_KEY": "/k.pem"}, "<3>GRPC_TLS_CERT and GRPC_TLS_KEY go together"),
        ]:
            with self.subTest(env=env):
                p = ModuleProcess(env)
                self.addCleanup(p.close)
                self.assertEqual(p.wait_exit(), 2, p.output)
                p.wait_line(message)

    def test_port_in_use_exits_1(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen()
            port = s.getsockname()[1]
            p = ModuleProcess({"GRPC_PORT": str(port)})
            self.addCleanup(p.close)
            self.assertEqual(p.wait_exit(), 1, p.output)
            p.wait_line(f"<3>cannot listen on 127.0.0.1:{port}")

    def test_broken_stderr_pipe_never_stops_the_module(self):
        # As after the orchestrator's kill -9: nobody reads stderr any more.
        port = free_port()
        p = ModuleProcess({"GRPC_PORT": str(port)}, read_stderr=False)
        self.addCleanup(p.close)
        for _ in range(100):
            try:
                health(port)
                break
            except grpc.RpcError:
                time.sleep(0.05)
        p.proc.stderr.close()
        for _ in range(20):  # every HealthCheck logs a line into the broken pipe
            self.assertEqual(health(port).state, 3)
        started = time.monotonic()
        p.proc.stdin.close()
        self.assertEqual(p.wait_exit(5), 0)
        self.assertLess(time.monotonic() - started, 2.0)

    def test_blocked_event_loop_still_exits_within_2_s_of_end_of_stdin(self):
        p = self.start()
        channel = grpc.insecure_channel(f"127.0.0.1:{p.port}")
        self.addCleanup(channel.close)
        blocked = entity_pb2_grpc.EntityServiceStub(channel).CreateEntity.future(
            entity_pb2.CreateEntityRequest(entity_id="block"), timeout=30
        )
        time.sleep(0.3)
        started = time.monotonic()
        p.proc.stdin.close()
        code = p.wait_exit(5)
        self.assertLess(time.monotonic() - started, 2.0, p.output)
        self.assertEqual(code, 0)
        blocked.cancel()


class TokenTest(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.orch = await FakeOrchestrator(token="from-stdin").start()

    async def asyncTearDown(self):
        await self.orch.stop()

    def spawn(self, **env) -> ModuleProcess:
        env = {"GRPC_PORT": str(free_port()), "ORCHESTRATOR_ADDRESS": self.orch.address, **env}
        p = ModuleProcess(env)
        self.addCleanup(p.close)
        return p

    async def test_token_line_on_stdin_then_eof_is_still_watched(self):
        p = self.spawn(MODULE_TOKEN_STDIN="1", MODULE_TOKEN="legacy-env-token")
        p.proc.stdin.write(b"MODULE_TOKEN=from-stdin\n")
        p.proc.stdin.flush()
        await wait_for(lambda: self.orch.of_kind("event"), 10, "the module's first event")
        self.assertEqual(self.orch.of_kind("event")[0].event.type, "fixture.started")
        self.assertEqual(set(self.orch.authorizations), {"Bearer from-stdin"}, "stdin wins over the environment")
        p.proc.stdin.close()
        self.assertEqual(await asyncio.to_thread(p.wait_exit), 0, p.output)

    async def test_legacy_token_from_the_environment(self):
        p = self.spawn(MODULE_TOKEN="from-stdin")
        await wait_for(lambda: self.orch.of_kind("event"), 10, "the module's first event")
        self.assertEqual(set(self.orch.authorizations), {"Bearer from-stdin"})

    async def test_missing_or_bad_token_line_exits_2(self):
        for sent, message in [
            (b"", "standard input ended before the MODULE_TOKEN=<token> line"),
            (b"TOKEN: from-stdin\n", "is not MODULE_TOKEN=<token>"),
            (b"MODULE_TOKEN=\n", "is not MODULE_TOKEN=<token>"),
        ]:
            with self.subTest(sent=sent):
                p = self.spawn(MODULE_TOKEN_STDIN="1")
                p.proc.stdin.write(sent)
                p.proc.stdin.close()
                self.assertEqual(await asyncio.to_thread(p.wait_exit), 2, p.output)
                await asyncio.to_thread(p.wait_line, message)
                self.assertNotIn("from-stdin", p.output, "the line is not repeated")
        self.assertEqual(self.orch.messages, [])


if __name__ == "__main__":
    unittest.main()
