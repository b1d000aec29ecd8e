"""`RpcError`: an error a handler raises to answer a call with a gRPC status."""

from typing import Union

import grpc

#: gRPC status codes (`Code.NOT_FOUND`, `Code.INVALID_ARGUMENT`, ...): grpc.StatusCode.
Code = grpc.StatusCode


class RpcError(Exception):
    """Raised by a handler, answers the call with `code` and `message`.

    `code` is a `Code` (grpc.StatusCode) or its name, e.g. "NOT_FOUND".
    """

    def __init__(self, code: Union[grpc.StatusCode, str], message: str):
        if isinstance(code, str):
            try:
                code = grpc.StatusCode[code]
            except KeyError:
                raise ValueError(f'unknown gRPC status code "{code}"') from None
        if not isinstance(code, grpc.StatusCode):
            raise TypeError(f"code must be a Code (grpc.StatusCode), got {code!r}")
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message

    @staticmethod
    def from_ack_error(text: str) -> "RpcError":
        """The error of an `Ack.error` ("CODE: message"); UNKNOWN when it names no code."""
        name, sep, rest = text.partition(": ")
        if sep and name in grpc.StatusCode.__members__:
            return RpcError(grpc.StatusCode[name], rest)
        return RpcError(grpc.StatusCode.UNKNOWN, text)
