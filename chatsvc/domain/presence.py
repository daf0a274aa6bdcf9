"""Who is online: users with at least one live stream open in a session (this process)."""

from __future__ import annotations

from chatsvc.auth import Principal


class Presence:
    def __init__(self) -> None:
        self._sessions: dict[str, dict[str, tuple[int, Principal]]] = {}

    def connect(self, session_id: str, principal: Principal) -> bool:
        """Count one more stream; True when it is the user's first in the session."""
        users = self._sessions.setdefault(session_id, {})
        count, _ = users.get(principal.user_id, (0, principal))
        users[principal.user_id] = (count + 1, principal)
        return count == 0

    def disconnect(self, session_id: str, principal: Principal) -> bool:
        """Count one stream less; True when it was the user's last in the session."""
        users = self._sessions.get(session_id, {})
        count, known = users.get(principal.user_id, (0, principal))
        if count <= 1:
            users.pop(principal.user_id, None)
            if not users:
                self._sessions.pop(session_id, None)
            return count == 1
        users[principal.user_id] = (count - 1, known)
        return False

    def online(self, session_id: str) -> list[Principal]:
        users = self._sessions.get(session_id, {})
        return [principal for _, principal in sorted(users.values(), key=lambda item: item[1].user_id)]

    def is_online(self, session_id: str, user_id: str) -> bool:
        return user_id in self._sessions.get(session_id, {})
