"""Domain errors as gRPC statuses, with google.rpc details (grpcio-status)."""

from __future__ import annotations

import grpc
from google.protobuf import duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from chatsvc.domain.errors import ChatError, ErrorCode


def to_status(code: ErrorCode, message: str, *, retry_after=None) -> grpc.Status:
    status = status_pb2.Status(code=int(code), message=message)
    if retry_after is not None:
        delay = duration_pb2.Duration()
        delay.FromTimedelta(retry_after)
        status.details.add().Pack(error_details_pb2.RetryInfo(retry_delay=delay))
    return rpc_status.to_status(status)


def chat_error_status(error: ChatError) -> grpc.Status:
    return to_status(error.code, error.message, retry_after=error.retry_after)


assert code_pb2.UNAUTHENTICATED == ErrorCode.UNAUTHENTICATED  # same numbers as google.rpc.Code
