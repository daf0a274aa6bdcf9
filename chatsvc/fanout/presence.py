"""Who is online: users with at least one live stream open in a session.

`LocalPresence` counts this process's streams. With Redis, `RedisPresence`
(chatsvc.fanout.redis.presence) answers for every process; both have the
same async interface.
"""

from __future__ import annotations

from typing import Protocol

from chatsvc.auth import Principal


class Presence(Protocol):
    async def connect(self, session_id: str, principal: Principal) -> bool:
        """Count one more stream; True when it is the user's first in the session."""
        ...

    async def disconnect(self, session_id: str, principal: Principal) -> bool:
        """Count one stream less; True when it was the user's last in the session."""
        ...

    async def online(self, session_id: str) -> list[Principal]:
        """The users online in the session, by user id."""
        ...


class LocalPresence:
    def __init__(self) -> None:
        self._sessions: dict[str, dict[str, tuple[int, Principal]]] = {}

    async def connect(self, session_id: str, principal: Principal) -> bool:
        return self.count_up(session_id, principal)

    async def disconnect(self, session_id: str, principal: Principal) -> bool:
        return self.count_down(session_id, principal)

    async def online(self, session_id: str) -> list[Principal]:
        return self.local_online(session_id)

    def count_up(self, session_id: str, principal: Principal) -> bool:
        users = self._sessions.setdefault(session_id, {})
        count, _ = users.get(principal.user_id, (0, principal))
        users[principal.user_id] = (count + 1, principal)
        return count == 0

    def count_down(self, session_id: str, principal: Principal) -> bool:
        users = self._sessions.get(session_id, {})
        count, known = users.get(principal.user_id, (0, principal))
        if count <= 1:
            users.pop(principal.user_id, None)
            if not users:
                self._sessions.pop(session_id, None)
            return count == 1
        users[principal.user_id] = (count - 1, known)
        return False

    def has(self, session_id: str, user_id: str) -> bool:
        """True while the user has a stream here in the session."""
        return user_id in self._sessions.get(session_id, {})

    def entries(self) -> list[tuple[str, Principal]]:
        """(session id, user) for every user with a stream here."""
        return [(session_id, principal) for session_id, users in self._sessions.items() for _, principal in users.values()]

    def local_online(self, session_id: str) -> list[Principal]:
        users = self._sessions.get(session_id, {})
        return [principal for _, principal in sorted(users.values(), key=lambda item: item[1].user_id)]

    async def start(self, on_left) -> None:
        pass

    async def close(self, linger_seconds: float = 0.0) -> None:
        pass
