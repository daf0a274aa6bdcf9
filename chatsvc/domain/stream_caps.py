"""How many live streams one user may hold open: per session and in all, in this process.

One participant token once opened 2,000 streams. A person with a few tabs
and devices needs a handful; past the caps a new stream is refused with
RESOURCE_EXHAUSTED and the user is told to close one. Counts are per server
process: behind a load balancer of N processes a user may hold up to N times
as many.
"""

from __future__ import annotations

from chatsvc.errors import ChatError, ErrorCode


class StreamCaps:
    def __init__(self, *, per_session: int, per_user: int) -> None:
        self.per_session = per_session
        self.per_user = per_user
        self._in_session: dict[tuple[str, str], int] = {}
        self._of_user: dict[str, int] = {}

    def open(self, user_id: str, session_id: str) -> None:
        """Count a new stream of the user, or refuse it when a cap is reached."""
        key = (user_id, session_id)
        in_session = self._in_session.get(key, 0)
        if in_session >= self.per_session:
            raise ChatError(
                ErrorCode.RESOURCE_EXHAUSTED,
                f"you have {in_session} live streams in this session; close one to open another",
                reason="stream_limit",
            )
        of_user = self._of_user.get(user_id, 0)
        if of_user >= self.per_user:
            raise ChatError(
                ErrorCode.RESOURCE_EXHAUSTED,
                f"you have {of_user} live streams open on this server; close one to open another",
                reason="stream_limit",
            )
        self._in_session[key] = in_session + 1
        self._of_user[user_id] = of_user + 1

    def close(self, user_id: str, session_id: str) -> None:
        """A counted stream ended."""
        key = (user_id, session_id)
        _decrement(self._in_session, key)
        _decrement(self._of_user, user_id)


def _decrement(counts: dict, key) -> None:
    left = counts.get(key, 0) - 1
    if left > 0:
        counts[key] = left
    else:
        counts.pop(key, None)
