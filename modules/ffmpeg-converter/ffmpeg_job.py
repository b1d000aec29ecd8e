"""One supervised ffmpeg child: started, watched and restarted.

A child is restarted when it exits and when it stops producing: no first frame within
`first_frame_timeout`, or no new frame for `stall_timeout` (a camera that went silent, a
child stopped with SIGSTOP, a hung network read). The first restart is at once, then
restarts back off from 0.5 s to 10 s; the backoff resets once a run has produced frames
for 20 s. Frames, fps, bitrate and
the last-frame time come from ffmpeg's `-progress` output, read from a pipe of its own.

The child is started by `ffmpeg_spawn` (dies with the module, progress on a pipe); a
child started before the job existed (a conversion resumed at the module's start, see
`resume.py`) is adopted as its first run.
"""
import asyncio
import os
import signal
import time
from collections import deque
from typing import Awaitable, Callable, Optional

import ffmpeg_spawn
from ffmpeg_progress import ProgressParser
from ffmpeg_spawn import Spawned


class _Child:
    """A started ffmpeg as asyncio sees it: its exit awaited through a pidfd (no thread
    per child; polled where there is none), its standard output and error as streams."""

    def __init__(self, spawned: Spawned):
        self.process = spawned.process
        self.pid = self.process.pid
        self.stdout: Optional[asyncio.StreamReader] = None
        self.stderr: Optional[asyncio.StreamReader] = None
        self._transports = []
        self._loop = asyncio.get_running_loop()
        self._exited = self._loop.create_future()
        self._poller = None
        try:
            self._pidfd = os.pidfd_open(self.pid)
            self._loop.add_reader(self._pidfd, self._check)
        except (AttributeError, OSError):
            self._pidfd = -1
            self._poller = self._loop.create_task(self._poll())

    def _check(self) -> None:
        if self.process.poll() is not None and not self._exited.done():
            self._exited.set_result(self.process.returncode)
            if self._pidfd >= 0:
                self._loop.remove_reader(self._pidfd)

    async def _poll(self) -> None:
        while not self._exited.done():
            self._check()
            await asyncio.sleep(0.1)

    @classmethod
    async def attach(cls, spawned: Spawned) -> "_Child":
        child = cls(spawned)
        for name in ("stdout", "stderr"):
            pipe = getattr(child.process, name)
            if pipe is not None:
                reader = asyncio.StreamReader()
                transport, _ = await child._loop.connect_read_pipe(
                    lambda r=reader: asyncio.StreamReaderProtocol(r), pipe)
                child._transports.append(transport)
                setattr(child, name, reader)
        return child

    @property
    def returncode(self) -> Optional[int]:
        """The exit code, negative for a signal; None while it runs."""
        return self.process.poll()

    async def wait(self) -> int:
        """Waits until the child exited; its exit code."""
        return await asyncio.shield(self._exited)

    def send_signal(self, sig: int) -> None:
        """Signals the child unless it has exited (Popen guards against pid reuse)."""
        self.process.send_signal(sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def close(self) -> None:
        """Releases the pidfd and the pipes (after the child exited)."""
        if self._pidfd >= 0:
            self._loop.remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = -1
        if self._poller:
            self._poller.cancel()
        for transport in self._transports:
            transport.close()
        self._transports = []


class FfmpegJob:
    """Runs `command()` (argv, recomputed for each start) until `stop()`.

    `stdout_sink(reader)` consumes the child's standard output when given (MJPEG);
    `before_start()` runs before each start (clearing an HLS directory); `on_event(kind,
    message)` hears about starts, exits, stalls and restarts; `adopt`, a child already
    started with this command, is the first run (no `before_start` for it).
    """

    def __init__(
        self,
        name: str,
        command: Callable[[], list],
        *,
        stdout_sink: Optional[Callable[[asyncio.StreamReader], Awaitable[None]]] = None,
        before_start: Optional[Callable[[], None]] = None,
        on_event: Optional[Callable[[str, str], None]] = None,
        stall_timeout: float = 3.0,
        first_frame_timeout: float = 15.0,
        adopt: Optional[Spawned] = None,
    ):
        self.name = name
        self._command = command
        self._stdout_sink = stdout_sink
        self._before_start = before_start
        self._on_event = on_event or (lambda kind, message: None)
        self.stall_timeout = stall_timeout
        self.first_frame_timeout = first_frame_timeout
        self._task: Optional[asyncio.Task] = None
        self._proc: Optional[_Child] = None
        self._adopt = adopt
        self.adopted = adopt is not None  # the first run was started by someone else
        self._stopping = False
        self._restart_reason = ""  # set by restart(): the next start is at once
        # Figures, over every run of the child.
        self.state = "stopped"  # starting, running, stalled, backoff, stopped
        self.frames = 0
        self.bytes = 0
        self.restarts = 0
        self.last_frame_at = 0.0  # wall clock, seconds
        self.started_at = 0.0
        self.last_error = ""
        self.stderr_tail: deque = deque(maxlen=20)
        self._samples: deque = deque(maxlen=64)  # (monotonic, frames, bytes)
        self._run_frames = 0
        self._run_bytes = 0
        self._last_progress = 0.0  # monotonic

    # -- figures -------------------------------------------------------------------

    @property
    def pid(self) -> int:
        """The child's pid, 0 when none runs."""
        return self._proc.pid if self._proc and self._proc.returncode is None else 0

    def fps(self) -> float:
        """Frames per second over the last ~3 s."""
        return self._rate(1)

    def bitrate_kbps(self) -> float:
        """Output kbit/s over the last ~3 s."""
        return self._rate(2) * 8 / 1000

    def _rate(self, index: int) -> float:
        now = time.monotonic()
        recent = [s for s in self._samples if now - s[0] <= 3.0]
        if len(recent) < 2 or now - recent[-1][0] > 2.0:
            return 0.0
        first, last = recent[0], recent[-1]
        span = last[0] - first[0]
        return round((last[index] - first[index]) / span, 1) if span > 0 else 0.0

    def figures(self) -> dict:
        """Frames, fps, bitrate, last-frame time and supervision state."""
        return {
            "state": self.state,
            "frames": self.frames,
            "bytes": self.bytes,
            "fps": self.fps(),
            "bitrate_kbps": round(self.bitrate_kbps(), 1),
            "last_frame_at": self.last_frame_at,
            "restarts": self.restarts,
            "pid": self.pid,
            "last_error": self.last_error,
        }

    # -- control -------------------------------------------------------------------

    def start(self) -> None:
        """Starts supervising (no-op when already running)."""
        if self._task and not self._task.done():
            return
        self._stopping = False
        self.started_at = time.time()
        self._task = asyncio.get_running_loop().create_task(self._supervise())

    async def stop(self) -> None:
        """Stops the child and the supervision."""
        self._stopping = True
        await self._kill("stopped", signal.SIGTERM)
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        self.state = "stopped"

    async def restart(self, reason: str) -> int:
        """Kills the running child (stopped or not) and starts a new one at once, whatever
        the backoff; returns the killed child's pid (0 when none ran). The restart counts
        in `restarts` and is told to `on_event` as any other."""
        pid = self.pid
        if not pid:
            return 0  # between two runs: the next one starts by itself
        self._restart_reason = reason or "asked"
        await self._kill("restart", signal.SIGKILL)
        return pid

    # -- supervision -------------------------------------------------------------------

    async def _supervise(self) -> None:
        backoff = 0.1  # the first restart at once: a viewer is waiting
        while not self._stopping:
            run_started = time.monotonic()
            reason = await self._run_once()
            if self._stopping:
                break
            produced_for = time.monotonic() - run_started
            if produced_for > 20 and self._run_frames > 0:
                backoff = 0.1
            self.restarts += 1
            if self._restart_reason:
                # Asked for (ReestablishConnection): at once, the backoff left as it was.
                reason, self._restart_reason = f"restart asked: {self._restart_reason}", ""
                self.last_error = reason
                self._on_event("restarting", f"{reason}; restarting now")
                continue
            self.last_error = reason
            self.state = "backoff"
            self._on_event("restarting", f"{reason}; restarting in {backoff:g} s")
            await asyncio.sleep(backoff)
            backoff = min(max(backoff * 2, 0.5), 10.0)

    async def _run_once(self) -> str:
        """Runs the child until it exits or stalls; returns why it ended."""
        spawned, self._adopt = self._adopt, None
        if spawned is None:
            if self._before_start:
                self._before_start()
            argv = self._command()
            try:
                spawned = ffmpeg_spawn.spawn(argv, with_stdout=self._stdout_sink is not None)
            except OSError as err:
                return f"cannot start {argv[0]}: {err}"
        self._proc = await _Child.attach(spawned)
        read_fd = spawned.progress_fd
        proc = self._proc
        self.state = "starting"
        self._run_frames = 0
        self._run_bytes = 0
        self._last_progress = time.monotonic()
        self._on_event("started", f"ffmpeg pid {proc.pid}")
        tasks = [
            asyncio.create_task(self._read_progress(read_fd)),
            asyncio.create_task(self._read_stderr(proc.stderr)),
        ]
        if self._stdout_sink:
            tasks.append(asyncio.create_task(self._stdout_sink(proc.stdout)))
        reason = ""
        try:
            reason = await self._watch(proc)
        finally:
            if proc.returncode is None:
                proc.kill()
            await proc.wait()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            proc.close()
        return reason

    async def _watch(self, proc) -> str:
        """Waits for the child to exit or stall; kills a stalled one."""
        started = time.monotonic()
        # One waiter for the whole run, looked at every 0.25 s (a new one each time would
        # pile up until the child exits).
        exited = asyncio.ensure_future(proc.wait())
        try:
            while True:
                await asyncio.wait({exited}, timeout=0.25)
                if proc.returncode is not None:
                    tail = " | ".join(list(self.stderr_tail)[-3:])
                    code = proc.returncode
                    how = f"killed by signal {-code}" if code < 0 else f"exited with code {code}"
                    return f"ffmpeg {how}" + (f": {tail}" if tail else "")
                now = time.monotonic()
                if self._run_frames == 0:
                    if now - started > self.first_frame_timeout:
                        self.state = "stalled"
                        await self._kill("no first frame", signal.SIGKILL)
                        return f"ffmpeg produced no frame within {self.first_frame_timeout:g} s"
                elif now - self._last_progress > self.stall_timeout:
                    self.state = "stalled"
                    self._on_event("stalled", f"no new frame for {self.stall_timeout:g} s")
                    await self._kill("stalled", signal.SIGKILL)
                    return f"ffmpeg stalled: no new frame for {self.stall_timeout:g} s"
        finally:
            exited.cancel()

    async def _kill(self, why: str, sig: int) -> None:
        proc = self._proc
        if not proc or proc.returncode is not None:
            return
        try:
            proc.send_signal(sig)
            if sig != signal.SIGKILL:
                proc.send_signal(signal.SIGCONT)  # a stopped child must run to see SIGTERM
            await asyncio.wait_for(proc.wait(), 3)
        except (ProcessLookupError, asyncio.TimeoutError):
            try:
                proc.kill()
            except ProcessLookupError:
                pass

    async def _read_progress(self, fd: int) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", 0))
        parser = ProgressParser()
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                p = parser.feed(line.decode(errors="replace"))
                if p is None:
                    continue
                now = time.monotonic()
                if p.frame > self._run_frames:
                    self.frames += p.frame - self._run_frames
                    self._run_frames = p.frame
                    self._last_progress = now
                    self.last_frame_at = time.time()
                    self.state = "running"
                if p.total_size > self._run_bytes:
                    self.bytes += p.total_size - self._run_bytes
                    self._run_bytes = p.total_size
                self._samples.append((now, self.frames, self.bytes))
        finally:
            transport.close()

    async def _read_stderr(self, stream: asyncio.StreamReader) -> None:
        while True:
            line = await stream.readline()
            if not line:
                return
            text = line.decode(errors="replace").rstrip()
            if text:
                self.stderr_tail.append(text)
