"""Sliding-window rate limits: the `RateLimiter` protocol and its in-process implementation
(the Redis one, shared by every process, is `chatsvc.fanout.redis.ratelimit`).

`hit(key, limit, window)` counts one attempt and answers how long to wait
when the limit is reached. Times come from the injected clock, so that tests
move windows without sleeping and all processes agree on one timeline.
"""

from __future__ import annotations

from collections import deque
from datetime import timedelta
from typing import Protocol

from chatsvc.clock import Clock


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: int, window: timedelta) -> timedelta | None:
        """Count an attempt; None when allowed, else the delay until one is allowed again."""
        ...

    async def close(self) -> None: ...


class LocalRateLimiter:
    """One process: a deque of attempt times per key."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._attempts: dict[str, deque[float]] = {}

    async def hit(self, key: str, limit: int, window: timedelta) -> timedelta | None:
        now = self._clock.now().timestamp()
        start = now - window.total_seconds()
        attempts = self._attempts.setdefault(key, deque())
        while attempts and attempts[0] <= start:
            attempts.popleft()
        if len(attempts) >= limit:
            return timedelta(seconds=attempts[0] - start)
        attempts.append(now)
        return None

    async def close(self) -> None:
        self._attempts.clear()
