"""Starting an ffmpeg child: its progress pipe, its death with the module, and where a
conversion's HLS files go.

Standard library only and no asyncio, so `main.py` can start the conversions it resumes
before its heavy imports (see `resume.py`); `FfmpegJob` supervises what this starts.
"""
import ctypes
import os
import signal
import subprocess
import tempfile
from dataclasses import dataclass

PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent():
    """Runs in the child before exec: SIGKILL when the module process dies, so a module
    killed with SIGKILL leaves no ffmpeg behind."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def scratch_root() -> str:
    """Where HLS directories go: /dev/shm when it exists, else the temp directory."""
    return "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()


def hls_directory(entity_id: str) -> str:
    """The HLS directory of a converter entity, named after the module's pid so a later
    start can remove what a killed module left behind."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in entity_id)
    return os.path.join(scratch_root(), f"ca-hls-{os.getpid()}-{safe}")


@dataclass
class Spawned:
    """A started ffmpeg: the process and the read end of its `-progress` pipe."""

    process: subprocess.Popen
    progress_fd: int


def spawn(argv: list, with_stdout: bool = False) -> Spawned:
    """Starts `argv` (an ffmpeg command) with its progress written to a pipe of its own
    every 0.5 s, standard error piped, standard output piped when `with_stdout` (MJPEG),
    and death with the module. OSError when it cannot start."""
    read_fd, write_fd = os.pipe()
    # The child keeps the pipe's descriptor number (pass_fds), so name that one.
    argv = [argv[0], "-progress", f"pipe:{write_fd}", "-stats_period", "0.5", *argv[1:]]
    try:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if with_stdout else subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            pass_fds=(write_fd,),
            preexec_fn=_die_with_parent,
        )
    except OSError:
        os.close(read_fd)
        raise
    finally:
        os.close(write_fd)
    return Spawned(process, read_fd)
