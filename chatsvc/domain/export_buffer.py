"""The export's output buffer: texts gathered into chunks of about a set size, so the file
streams in a few large gRPC messages and the server holds at most one chunk."""

from __future__ import annotations


class ChunkBuffer:
    """Collects text; hands out UTF-8 chunks of about `size` bytes."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._parts: list[bytes] = []
        self._length = 0

    def write(self, text: str) -> None:
        if text:
            data = text.encode("utf-8")
            self._parts.append(data)
            self._length += len(data)

    def full_chunks(self) -> list[bytes]:
        if self._length < self.size:
            return []
        return self.rest()

    def rest(self) -> list[bytes]:
        if not self._parts:
            return []
        chunk = b"".join(self._parts)
        self._parts, self._length = [], 0
        return [chunk]
