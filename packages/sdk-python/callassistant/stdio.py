"""Process plumbing: noticing that the orchestrator is gone (end of file on standard input)
and writing to standard error without ever failing.

When the orchestrator dies (even by kill -9) its ends of the module's pipes close: standard
input reaches end of file, and writes to standard error fail with EPIPE (BrokenPipeError).
A module must notice the first and survive the second long enough to exit cleanly.
"""

import os
import stat
import sys
import threading
from typing import Callable

_write_lock = threading.Lock()


def write_stderr(line: str) -> None:
    """Writes one line to standard error; never raises (a broken pipe is ignored)."""
    data = (line.rstrip("\n") + "\n").encode("utf-8", "replace")
    with _write_lock:
        try:
            while data:
                data = data[os.write(2, data):]
        except (OSError, ValueError):
            pass  # the reader is gone (the orchestrator was killed) or stderr is closed


class _SafeStream:
    """A text stream whose writes and flushes never raise OSError (broken pipe)."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text):
        try:
            return self._stream.write(text)
        except (OSError, ValueError):
            return len(text)

    def flush(self):
        try:
            self._stream.flush()
        except (OSError, ValueError):
            pass

    def __getattr__(self, name):
        return getattr(self._stream, name)


def guard_std_streams() -> None:
    """Makes `print()` and tracebacks on sys.stdout/sys.stderr survive a broken pipe."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, _SafeStream):
            setattr(sys, name, _SafeStream(stream))


def stdin_is_pipe(fd: int = 0) -> bool:
    """True when `fd` is a pipe or a socket, as when the orchestrator starts the module.

    A terminal, /dev/null or a file is not watched: a module started by hand, by systemd or
    under nohup must not exit at once.
    """
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def watch_stdin(on_eof: Callable[[str], None], fd: int = 0) -> bool:
    """Reads `fd` in a daemon thread until end of file, then calls `on_eof(reason)` once
    (from that thread). Does nothing and returns False when `fd` is not a pipe. Input is
    discarded."""
    if not stdin_is_pipe(fd):
        return False

    def read() -> None:
        reason = "standard input reached end of file (the orchestrator is gone)"
        try:
            while os.read(fd, 4096):
                pass
        except OSError as err:
            reason = f"standard input failed ({err})"
        on_eof(reason)

    threading.Thread(target=read, name="callassistant-stdin", daemon=True).start()
    return True
