"""What a call's end says: its status counted and timed per method (Prometheus), its access-log line,
and refusals by the chat rules counted by reason.

The interceptor starts a `CallRecord` for every SessionChat call and finishes it with the status
the client got; live streams (StreamEvents, Subscribe) also say how many events they sent and
why they ended.
"""

from __future__ import annotations

import logging
import re
import time

from sessionchat.v1 import chat_pb2 as pb

from chatsvc.errors import REFUSAL_REASONS, ChatError, ErrorCode
from chatsvc.fanout.hub import StreamEnded, Subscriber
from chatsvc.logs import CallContext, current_call
from chatsvc.metrics import REFUSALS, RPC_DURATION, RPCS, STREAM_ACTIONS, STREAMS_ENDED

access_log = logging.getLogger("chatsvc.access")

SERVICE = pb.DESCRIPTOR.services_by_name["SessionChat"]
# Streams that live until the client leaves: their lifetime is no latency, and they say why they ended.
LIVE_METHODS = frozenset({"StreamEvents", "Subscribe"})
# Each RPC as an action name, as stream actions are named (SendMessage -> send_message).
ACTIONS = {method.name: re.sub(r"(?<!^)(?=[A-Z])", "_", method.name).lower() for method in SERVICE.methods}
# Stream actions by name (the `action` oneof), for metric labels: a fixed set.
STREAM_ACTION_NAMES = frozenset(field.name for field in pb.StreamEventsRequest.DESCRIPTOR.oneofs_by_name["action"].fields)

OK = "OK"
CANCELLED = "CANCELLED"


def code_name(code: ErrorCode | int) -> str:
    """A google.rpc code number as gRPC names it (`RESOURCE_EXHAUSTED`)."""
    try:
        return ErrorCode(code).name
    except ValueError:
        return str(int(code))


class CallRecord(CallContext):
    """One SessionChat call, from its start to its status."""

    __slots__ = ("live", "start", "code", "error_id", "subscriber", "end_reason")

    def __init__(self, method_path: str) -> None:
        super().__init__(method_path.rsplit("/", 1)[-1])
        self.live = self.method in LIVE_METHODS
        self.start = time.perf_counter()
        self.code = OK
        self.error_id = ""
        self.subscriber: Subscriber | None = None  # a live stream's, once it joined
        self.end_reason = ""

    def about(self, request: object) -> None:
        """Note the session a single request is about."""
        session_id = getattr(request, "session_id", "")
        if isinstance(session_id, str):
            self.session_id = session_id[:128]

    def failed(self, error: ChatError | StreamEnded) -> None:
        """The call ends with this error's status."""
        self.code = code_name(error.code)
        if isinstance(error, StreamEnded):
            self.end_reason = error.reason
            return
        self.error_id = error.error_id or ""
        if error.reason in REFUSAL_REASONS:
            REFUSALS.labels(ACTIONS.get(self.method, "other"), error.reason).inc()
        if self.live:
            self.end_reason = "refused" if self.subscriber is None else "error"

    def cancelled(self) -> None:
        """The client went away (or cancelled) before the call ended."""
        self.code = CANCELLED
        self.end_reason = "client_closed"

    def finish(self, access: bool) -> None:
        """Count the call, and write its access-log line when `access` is on."""
        elapsed = time.perf_counter() - self.start
        RPCS.labels(self.method, self.code).inc()
        if not self.live:
            RPC_DURATION.labels(self.method, self.code).observe(elapsed)
        elif self.subscriber is not None:
            STREAMS_ENDED.labels(self.end_reason or "client_closed").inc()
        if access:
            self._log(elapsed)

    def _log(self, elapsed: float) -> None:
        duration_ms = round(elapsed * 1000, 3)
        fields: dict[str, object] = {"code": self.code, "duration_ms": duration_ms}
        text = f"{self.method} {self.code} {duration_ms:g} ms"
        if self.live:
            fields["events_sent"] = self.subscriber.events_sent if self.subscriber is not None else 0
            fields["end_reason"] = self.end_reason or "client_closed"
            text += f" events_sent={fields['events_sent']} end_reason={fields['end_reason']}"
        if self.session_id:
            text += f" session={self.session_id}"
        if self.user_id:
            text += f" user={self.user_id}"
        if self.error_id:
            fields["error_id"] = self.error_id
            text += f" error_id={self.error_id}"
        access_log.info("%s", text, extra=fields)


def start_call(method_path: str) -> CallRecord:
    """Begin the record of a call, as the current call of this task (and of the tasks it starts)."""
    record = CallRecord(method_path)
    current_call.set(record)
    return record


def current_record() -> CallRecord | None:
    record = current_call.get()
    return record if isinstance(record, CallRecord) else None


def action_answered(action: str | None, error: ChatError | None = None) -> None:
    """Count a stream action's answer: OK, or the ErrorEvent's code (and a refusal by its reason)."""
    name = action if action in STREAM_ACTION_NAMES else "none"
    STREAM_ACTIONS.labels(name, OK if error is None else code_name(error.code)).inc()
    if error is not None and error.reason in REFUSAL_REASONS:
        REFUSALS.labels(name, error.reason).inc()
