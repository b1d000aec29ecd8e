"""The environment the orchestrator starts a module with (README "Writing a module"), read and checked, and
the module token, from standard input or (legacy) from the environment."""

import os
import select
import time
from dataclasses import dataclass
from typing import Mapping, Optional


class ModuleEnvError(Exception):
    """A missing or malformed environment variable (the module exits with code 2)."""


@dataclass(frozen=True)
class ModuleEnv:
    """The module's view of its process environment."""

    #: The port to serve gRPC on (`GRPC_PORT`), on `grpc_host`.
    grpc_port: int
    #: Where to serve (`GRPC_HOST`, default 127.0.0.1): another address for a remote module.
    grpc_host: str = "127.0.0.1"
    #: The module's id for this orchestrator (`MODULE_ID`); empty when run alone.
    module_id: str = ""
    #: The manifest name (`MODULE_NAME`); empty when run alone.
    module_name: str = ""
    #: host:port of the orchestrator's EventService (`ORCHESTRATOR_ADDRESS`); empty: no reports.
    orchestrator_address: str = ""
    #: The per-start secret for the EventService (see `read_token`); empty when unset.
    token: str = ""
    #: True when the token comes as the first line of standard input (`MODULE_TOKEN_STDIN=1`).
    token_from_stdin: bool = False
    #: A persistent directory of the module's own (`MODULE_DATA_DIR`); empty when unset.
    data_dir: str = ""
    #: True when the orchestrator runs in dev mode (`CALL_ASSISTANT_DEV=1`).
    dev: bool = False
    #: This instance of a replicated module (`MODULE_REPLICA`, from 0) and how many there are.
    replica: int = 0
    replicas: int = 1
    #: PEM files to serve TLS with (`GRPC_TLS_CERT`, `GRPC_TLS_KEY`); empty for plaintext.
    tls_cert: str = ""
    tls_key: str = ""
    #: A CA (PEM) whose client certificates are required (`GRPC_TLS_CLIENT_CA`, mutual TLS).
    tls_client_ca: str = ""


def _int(get, name: str, default: int) -> int:
    raw = get(name)
    return int(raw) if raw.isdigit() else default


def read_env(environ: Optional[Mapping[str, str]] = None) -> ModuleEnv:
    """Reads the module environment (`os.environ` by default); the token only from
    `MODULE_TOKEN` (see `read_token` for standard input).

    Raises ModuleEnvError naming the variable when GRPC_PORT is missing or not a port
    number, or when only one of GRPC_TLS_CERT and GRPC_TLS_KEY is set.
    """
    source = os.environ if environ is None else environ

    def get(name: str) -> str:
        return (source.get(name) or "").strip()

    raw_port = get("GRPC_PORT")
    if raw_port == "":
        raise ModuleEnvError(
            "GRPC_PORT is not set: this module is started by the Call Assistant orchestrator, "
            "which sets GRPC_PORT to the port it must serve gRPC on (to run it alone, set "
            "GRPC_PORT=50100 for example)"
        )
    if not raw_port.isdigit() or not 1 <= int(raw_port) <= 65535:
        raise ModuleEnvError(
            f'GRPC_PORT="{raw_port}" is not a port number (expected an integer from 1 to 65535)'
        )
    cert, key = get("GRPC_TLS_CERT"), get("GRPC_TLS_KEY")
    if bool(cert) != bool(key):
        raise ModuleEnvError("GRPC_TLS_CERT and GRPC_TLS_KEY go together: set both or neither")
    client_ca = get("GRPC_TLS_CLIENT_CA")
    if client_ca and not cert:
        raise ModuleEnvError("GRPC_TLS_CLIENT_CA needs GRPC_TLS_CERT and GRPC_TLS_KEY")
    from_stdin = get("MODULE_TOKEN_STDIN") == "1"
    return ModuleEnv(
        grpc_port=int(raw_port),
        grpc_host=get("GRPC_HOST") or "127.0.0.1",
        module_id=get("MODULE_ID"),
        module_name=get("MODULE_NAME"),
        orchestrator_address=get("ORCHESTRATOR_ADDRESS"),
        token="" if from_stdin else get("MODULE_TOKEN"),
        token_from_stdin=from_stdin,
        data_dir=get("MODULE_DATA_DIR"),
        dev=get("CALL_ASSISTANT_DEV") == "1",
        replica=_int(get, "MODULE_REPLICA", 0),
        replicas=_int(get, "MODULE_REPLICAS", 1),
        tls_cert=cert,
        tls_key=key,
        tls_client_ca=client_ca,
    )


#: The start of the token line on standard input.
TOKEN_PREFIX = "MODULE_TOKEN="


def read_token(fd: int = 0, timeout: float = 10.0) -> str:
    """Reads the token line `MODULE_TOKEN=<token>` from `fd` (standard input), once.

    Reads up to the first newline only, so a later reader still sees end of file. Raises
    ModuleEnvError when input ends first, nothing comes within `timeout` seconds, or the
    line is not a token line (its text is not repeated: it may be a secret).
    """
    deadline = time.monotonic() + timeout
    line = b""
    while b"\n" not in line:
        left = deadline - time.monotonic()
        if left <= 0:
            raise ModuleEnvError(
                f"MODULE_TOKEN_STDIN=1 but no {TOKEN_PREFIX}<token> line came on standard "
                f"input within {timeout:g} s"
            )
        try:
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            # One byte at a time: nothing after the line is taken from later readers.
            chunk = os.read(fd, 1)
        except OSError as err:
            raise ModuleEnvError(f"MODULE_TOKEN_STDIN=1 but standard input cannot be read: {err}") from None
        if not chunk:
            raise ModuleEnvError(
                f"MODULE_TOKEN_STDIN=1 but standard input ended before the {TOKEN_PREFIX}<token> line"
            )
        line += chunk
        if len(line) > 4096:
            break
    text = line.split(b"\n", 1)[0].decode("utf-8", "replace").rstrip("\r")
    if not text.startswith(TOKEN_PREFIX) or not text[len(TOKEN_PREFIX):].strip():
        raise ModuleEnvError(
            f"MODULE_TOKEN_STDIN=1 but the first line of standard input ({len(text)} characters) "
            f"is not {TOKEN_PREFIX}<token>"
        )
    return text[len(TOKEN_PREFIX):].strip()
