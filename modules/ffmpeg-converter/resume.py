"""The conversions a crash interrupted, started again before the orchestrator asks.

A converter killed (a crash, kill -9, the OOM killer) is started again by the
orchestrator, which then re-creates its entities and starts their flows: Python's start,
the gRPC registration and the flow's re-establishment take 0.5-1 s before ffmpeg would
start, while the screen shows nothing. So each running conversion is written down in
`MODULE_DATA_DIR/resume.json` (mode 0600: an input URL may carry a camera's password), and
the next start of the module spawns those ffmpegs first thing, before its heavy imports
(`main.py`). The conversion the orchestrator re-creates with the same entity id, input and
settings adopts the running child; one asked with other settings, or not asked for
within CLAIM_S, is killed and its files removed. A conversion stopped normally (flow
stopped, entity destroyed, module shut down) is forgotten, so only a crash resumes.

Standard library only, no asyncio: it runs before anything else is imported.
"""
import json
import os
import shutil
from typing import Optional

import ffmpeg_commands
import ffmpeg_spawn
from ffmpeg_spawn import Spawned

FILE_NAME = "resume.json"
CLAIM_S = 15.0


def _normal(record: dict) -> dict:
    """A record as it reads back from JSON, so that two can be compared."""
    return json.loads(json.dumps(record, sort_keys=True))


class Resume:
    """The module's running conversions on disk, and the children started from them.

    `data_dir` empty (no MODULE_DATA_DIR: run by hand) keeps nothing and resumes nothing.
    """

    def __init__(self, data_dir: str):
        self.path = os.path.join(data_dir, FILE_NAME) if data_dir else ""
        self.records: dict = {}  # entity id -> record, as on disk
        self.started: dict = {}  # entity id -> (record, Spawned, directory), not claimed yet
        self.problems: list = []  # what went wrong reading or starting, for the log

    def start_saved(self) -> None:
        """Reads the records a previous run left and starts an ffmpeg for each."""
        if not self.path:
            return
        try:
            with open(self.path, encoding="utf-8") as f:
                saved = json.load(f)
            if not isinstance(saved, dict):
                raise ValueError("not an object")
        except FileNotFoundError:
            return
        except (OSError, ValueError) as err:
            self.problems.append(f"{self.path} unreadable, nothing resumed: {err}")
            self._write()
            return
        for entity_id, record in saved.items():
            try:
                directory = ""
                if record["kind"] == "hls":
                    directory = ffmpeg_spawn.hls_directory(entity_id)
                    shutil.rmtree(directory, ignore_errors=True)
                    os.makedirs(directory)
                argv = ffmpeg_commands.conversion_command(record, directory)
                spawned = ffmpeg_spawn.spawn(argv, with_stdout=record["kind"] == "mjpeg")
            except (OSError, KeyError, TypeError, AttributeError) as err:
                self.problems.append(f'converter "{entity_id}" not resumed: {err!r}')
                continue
            self.records[entity_id] = record
            self.started[entity_id] = (_normal(record), spawned, directory)
        self._write()

    def claim(self, entity_id: str, record: dict) -> Optional[Spawned]:
        """The child started for `entity_id` when it was started with `record`; else None
        (and a child started with other settings is killed)."""
        started = self.started.pop(entity_id, None)
        if not started:
            return None
        if started[0] == _normal(record):
            return started[1]
        _kill(started[1], started[2])
        return None

    def drop_unclaimed(self, entity_id: str = "") -> list:
        """Kills the children nobody claimed (only the one of `entity_id` when given);
        their entity ids."""
        dropped = [entity_id] if entity_id in self.started else [] if entity_id else \
            sorted(self.started)
        for dropped_id in dropped:
            _, spawned, directory = self.started.pop(dropped_id)
            _kill(spawned, directory)
            self.records.pop(dropped_id, None)
        if dropped:
            self._write()
        return dropped

    def remember(self, entity_id: str, record: dict) -> None:
        """Notes a conversion that runs now."""
        self.records[entity_id] = _normal(record)
        self._write()

    def forget(self, entity_id: str) -> None:
        """Notes a conversion stopped."""
        if self.records.pop(entity_id, None) is not None:
            self._write()

    def take_problems(self) -> list:
        """What went wrong since the last call (to log), emptied."""
        problems, self.problems = self.problems, []
        return problems

    def _write(self) -> None:
        """Replaces the file at once (written aside, then renamed: never half a file)."""
        if not self.path:
            return
        temporary = f"{self.path}.tmp"
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(self.records, f, sort_keys=True)
            os.replace(temporary, self.path)
        except OSError as err:
            self.problems.append(f"cannot write {self.path}: {err}")


def _kill(spawned: Spawned, directory: str) -> None:
    process = spawned.process
    process.kill()
    process.wait()
    for pipe in (process.stdout, process.stderr):
        if pipe:
            pipe.close()
    os.close(spawned.progress_fd)
    if directory:
        shutil.rmtree(directory, ignore_errors=True)
