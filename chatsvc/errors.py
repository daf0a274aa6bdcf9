"""Errors the chat rules, auth and fan-out raise (a leaf every layer may import); the transport maps them to gRPC statuses.

`StartupError` is the one for settings the server cannot start with (the CLI prints it as one line)."""

from __future__ import annotations

import enum
from datetime import timedelta

# Why the chat rules refused a request (`ChatError.reason`): a fixed set, as metric labels must be.
REFUSAL_REASONS = frozenset({"rate_limit", "mute", "slow_mode", "overload", "policy", "stream_limit"})


class ErrorCode(enum.IntEnum):
    """The google.rpc.Code values the domain uses (same numbers)."""

    INVALID_ARGUMENT = 3
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    UNAUTHENTICATED = 16


class ChatError(Exception):
    """A request the server answers with `code` and `message`.

    `reason` names a deliberate refusal by the chat rules (one of `REFUSAL_REASONS`): what the
    `chatsvc_refusals_total` metric counts it as. `error_id` is set on an INTERNAL error: the id
    the client is told and the server log carries.
    """

    def __init__(
        self, code: ErrorCode, message: str, *, retry_after: timedelta | None = None, reason: str | None = None, error_id: str | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after = retry_after
        self.reason = reason
        self.error_id = error_id

    def __repr__(self) -> str:
        return f"ChatError({self.code.name}, {self.message!r})"


def invalid(message: str) -> ChatError:
    return ChatError(ErrorCode.INVALID_ARGUMENT, message)


def denied(message: str) -> ChatError:
    return ChatError(ErrorCode.PERMISSION_DENIED, message)


def not_found(message: str) -> ChatError:
    return ChatError(ErrorCode.NOT_FOUND, message)


def unauthenticated(message: str) -> ChatError:
    return ChatError(ErrorCode.UNAUTHENTICATED, message)


def unimplemented(feature: str) -> ChatError:
    return ChatError(ErrorCode.UNIMPLEMENTED, f"{feature} is not available yet on this server")


class StartupError(Exception):
    """A configuration the server cannot run with; the message is one line an operator can act on."""
