"""The module's own record of the connection a pipeline request names."""
from typing import Any, Mapping

from .rpc_error import Code, RpcError


def asked_connection(connections: Mapping[str, dict], req: Any) -> dict:
    """`connections[req.connection_id]` when it belongs to `req.flow_id` (a module's records,
    each a dict with a "flow_id"), for ReestablishConnection and the like:
    INVALID_ARGUMENT when either id is missing, NOT_FOUND when this module has no such
    connection of that flow."""
    if not req.flow_id or not req.connection_id:
        raise RpcError(Code.INVALID_ARGUMENT, "flow_id and connection_id are required")
    c = connections.get(req.connection_id)
    if c is None or c.get("flow_id") != req.flow_id:
        raise RpcError(Code.NOT_FOUND, f'connection "{req.connection_id}" of flow '
                       f'"{req.flow_id}" is not on this module')
    return c
