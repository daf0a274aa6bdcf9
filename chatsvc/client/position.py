"""Noticing events lost between the server and a client on one live stream."""

from __future__ import annotations

from sessionchat.v1 import chat_pb2 as pb


class StreamPosition:
    """Where one live stream stands, to notice events lost between the server and this client.

    A viewer legitimately skips sequences (others' private messages), so a
    jump proves nothing; instead each response carries `previous_sequence`,
    the last sequence the server sent before it, and the stream start counts
    as sent through its `resume_from_sequence`.
    """

    def __init__(self) -> None:
        self.sequence: int | None = None  # unknown until stream_started

    def intact(self, response) -> bool:
        """False when the server sent sequenced events before `response` that this client never got."""
        if response.events and response.events[0].WhichOneof("kind") == "stream_started":
            return True
        previous = response.previous_sequence
        # 0: nothing sent yet, or a server too old to say.
        return self.sequence is None or not previous or previous == self.sequence

    def advance(self, event: pb.Event) -> None:
        if event.WhichOneof("kind") == "stream_started":
            self.sequence = event.stream_started.resume_from_sequence
        elif event.sequence:
            self.sequence = event.sequence
