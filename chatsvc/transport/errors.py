"""Errors as gRPC statuses, with google.rpc details (grpcio-status): domain errors as they
are, storage outages as UNAVAILABLE, anything else as INTERNAL with an error id (never its text)."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

import grpc
from google.protobuf import duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from chatsvc.errors import ChatError, ErrorCode
from chatsvc.storage.database import storage_unavailable

log = logging.getLogger(__name__)

# What a client is told to wait after a storage outage: a restarted PostgreSQL or freed
# disk space is usually back within seconds.
STORAGE_RETRY_AFTER = timedelta(seconds=2)


def to_status(code: ErrorCode, message: str, *, retry_after=None) -> grpc.Status:
    status = status_pb2.Status(code=int(code), message=message)
    if retry_after is not None:
        delay = duration_pb2.Duration()
        delay.FromTimedelta(retry_after)
        status.details.add().Pack(error_details_pb2.RetryInfo(retry_delay=delay))
    return rpc_status.to_status(status)


def chat_error_status(error: ChatError) -> grpc.Status:
    return to_status(error.code, error.message, retry_after=error.retry_after)


def as_chat_error(error: BaseException, what: str) -> ChatError:
    """What a client is told about any failure of `what` (an RPC or a stream action).

    The one place that turns an exception that is not a ChatError into an answer, for
    unary calls, server streams and stream actions alike: its text (SQL, parameters,
    class names) stays in the server log, under an error id the client also gets.
    """
    if isinstance(error, ChatError):
        return error
    if storage_unavailable(error):
        log.warning("%s: storage unavailable: %s", what, error)
        return ChatError(
            ErrorCode.UNAVAILABLE,
            "the chat database is unavailable, nothing was stored; try again",
            retry_after=STORAGE_RETRY_AFTER,
        )
    error_id = uuid.uuid4().hex[:12]
    log.error("%s failed unexpectedly (error id %s)", what, error_id, exc_info=error, extra={"error_id": error_id})
    return ChatError(ErrorCode.INTERNAL, f"internal error (error id {error_id}); it has been logged", error_id=error_id)


assert code_pb2.UNAUTHENTICATED == ErrorCode.UNAUTHENTICATED  # same numbers as google.rpc.Code
