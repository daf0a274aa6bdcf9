"""Sliding-window rate limits, in process or shared through Redis.

`hit(key, limit, window)` counts one attempt and answers how long to wait
when the limit is reached. Times come from the injected clock, so that tests
move windows without sleeping and all processes agree on one timeline.
"""

from __future__ import annotations

import logging
import uuid
from collections import deque
from datetime import timedelta
from typing import Protocol

import redis.asyncio as redis
from redis.exceptions import RedisError

from chatsvc.clock import Clock

log = logging.getLogger(__name__)


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


# One round trip, atomic in Redis: drop attempts older than the window, then
# either record this one or answer how long until the oldest leaves the window.
SLIDING_WINDOW = """
local key, now, window, limit, member = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if redis.call('ZCARD', key) >= limit then
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return tonumber(oldest[2]) + window - now
end
redis.call('ZADD', key, now, member)
redis.call('PEXPIRE', key, window)
return -1
"""


class RedisRateLimiter:
    """Shared by every process on the same Redis. If Redis fails, attempts are
    allowed (the chat keeps working) and one warning is logged per outage."""

    def __init__(self, client: redis.Redis, clock: Clock, *, prefix: str = "chatsvc:rate:") -> None:
        self._client = client  # the process's shared pool, closed by its owner
        self._clock = clock
        self._prefix = prefix
        self._script = client.register_script(SLIDING_WINDOW)
        self._outage = False

    async def hit(self, key: str, limit: int, window: timedelta) -> timedelta | None:
        now_ms = int(self._clock.now().timestamp() * 1000)
        window_ms = int(window.total_seconds() * 1000)
        try:
            wait_ms = await self._script(
                keys=[self._prefix + key], args=[now_ms, window_ms, limit, f"{now_ms}-{uuid.uuid4().hex[:8]}"]
            )
        except (RedisError, OSError) as error:
            if not self._outage:
                self._outage = True
                log.warning("rate limits are off until Redis answers again: %s", error)
            return None
        if self._outage:
            self._outage = False
            log.warning("Redis answers again; rate limits are back on")
        wait_ms = int(wait_ms)
        return None if wait_ms < 0 else timedelta(milliseconds=max(wait_ms, 1))

    async def close(self) -> None:
        pass
