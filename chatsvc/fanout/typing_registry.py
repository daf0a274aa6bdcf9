"""Who is typing where: the shared state behind typing indicators.

Each start writes a fresh token with a deadline. The process that wrote the
newest token owns the expiry: when its timer fires it ends the typing only
if its token is still the one stored, so a refresh that reached another
process (behind a load balancer) is never cut short, and the stop is
announced once. A deadline in the past counts as not typing, so a crashed
process's entries cannot block the next start.
"""

from __future__ import annotations

from typing import Protocol

# (session id, user id, recipient id or "" for the public room)
TypingKey = tuple[str, str, str]


class TypingRegistry(Protocol):
    async def begin(self, key: TypingKey, token: str, now_ms: int, deadline_ms: int) -> bool:
        """Record typing until the deadline; True when the user was not typing there before."""
        ...

    async def end(self, key: TypingKey, now_ms: int) -> bool:
        """Forget the typing; True when it was active."""
        ...

    async def expire(self, key: TypingKey, token: str) -> bool:
        """Forget the typing if `token` is still the newest start; True when it was."""
        ...

    async def recipients(self, session_id: str, user_id: str) -> list[str]:
        """The conversations ("" for the room) where the user has a typing entry."""
        ...


class LocalTypingRegistry:
    """One process: a dict."""

    def __init__(self) -> None:
        self._entries: dict[TypingKey, tuple[str, int]] = {}

    async def begin(self, key: TypingKey, token: str, now_ms: int, deadline_ms: int) -> bool:
        previous = self._entries.get(key)
        self._entries[key] = (token, deadline_ms)
        return previous is None or previous[1] < now_ms

    async def end(self, key: TypingKey, now_ms: int) -> bool:
        previous = self._entries.pop(key, None)
        return previous is not None and previous[1] >= now_ms

    async def expire(self, key: TypingKey, token: str) -> bool:
        if self._entries.get(key, ("", 0))[0] != token:
            return False
        del self._entries[key]
        return True

    async def recipients(self, session_id: str, user_id: str) -> list[str]:
        return [key[2] for key in self._entries if key[0] == session_id and key[1] == user_id]

    async def close(self) -> None:
        self._entries.clear()
