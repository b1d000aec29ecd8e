"""A module's log: one line per record on standard error, which the orchestrator captures.

Each line starts with a level tag in the sd-daemon(3) form the orchestrator parses:
`<7>` debug, `<6>` info, `<4>` warn, `<3>` error, then the message and `key=value` fields
(values with spaces or quotes JSON-quoted). Inside a call from the orchestrator a record
gets `trace_id=` of that call. The orchestrator's set-log-level command changes the level.
"""

import json
from typing import Any, Callable

from .stdio import write_stderr
from .tracing import current_trace_id

#: Log levels, least serious first, with their rank.
LEVELS = {"debug": 10, "info": 20, "warn": 30, "error": 40}
#: The sd-daemon(3) tag of each level.
TAGS = {"debug": "<7>", "info": "<6>", "warn": "<4>", "error": "<3>"}


def _text(value: Any) -> str:
    s = value if isinstance(value, str) else json.dumps(value, default=str)
    return json.dumps(s) if s == "" or any(c in s for c in ' \t\n"=') else s


def format_line(level: str, message: str, fields: dict) -> str:
    """`<6>message key=value ...`: one log line."""
    extra = " ".join(f"{k}={_text(v)}" for k, v in fields.items() if v is not None)
    text = f"{message} {extra}" if extra else message
    return TAGS[level] + text.replace("\n", "\\n")


class Logger:
    """A module's logger: `log.info("message", key=value)`. Never raises."""

    def __init__(self, level: str = "info", write: Callable[[str], None] = write_stderr):
        self.write = write
        self.level = level

    @property
    def level(self) -> str:
        """The least serious level logged: "debug", "info", "warn" or "error"."""
        return self._level

    @level.setter
    def level(self, level: str) -> None:
        if level not in LEVELS:
            raise ValueError(f'unknown log level "{level}" (levels: {", ".join(LEVELS)})')
        self._level = level

    def enabled(self, level: str) -> bool:
        """True when records at `level` are written."""
        return LEVELS[level] >= LEVELS[self._level]

    def log(self, level: str, message: str, **fields: Any) -> None:
        """Writes `message` with `fields` at `level` (plus `trace_id` inside a call)."""
        if not self.enabled(level):
            return
        trace_id = current_trace_id()
        if trace_id and "trace_id" not in fields:
            fields["trace_id"] = trace_id
        try:
            self.write(format_line(level, str(message), fields))
        except Exception:  # noqa: BLE001 - logging must never break the module
            pass

    def debug(self, message: str, **fields: Any) -> None:
        """Logs at debug level."""
        self.log("debug", message, **fields)

    def info(self, message: str, **fields: Any) -> None:
        """Logs at info level."""
        self.log("info", message, **fields)

    def warn(self, message: str, **fields: Any) -> None:
        """Logs at warn level."""
        self.log("warn", message, **fields)

    warning = warn

    def error(self, message: str, **fields: Any) -> None:
        """Logs at error level."""
        self.log("error", message, **fields)
