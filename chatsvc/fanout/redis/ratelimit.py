"""Rate limits shared by every process through Redis (a sliding window per key, in one Lua script)."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from chatsvc.clock import Clock
from chatsvc.fanout.redis.outage import Outage
from chatsvc.fanout.redis.pool import REDIS_FAILURES, Client, session_key, settle_seconds

log = logging.getLogger(__name__)


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

    def __init__(self, client: Client, clock: Clock, *, prefix: str = "chatsvc:rate:") -> None:
        self._client = client  # the process's shared pool, closed by its owner
        self._clock = clock
        self._prefix = prefix
        self._script = client.register_script(SLIDING_WINDOW)
        self._outage = Outage(
            log,
            "rate_limit",
            down="rate limits are off until Redis answers again",
            up="Redis answers again; rate limits are back on",
            settle_seconds=settle_seconds(client),
        )

    def _key(self, key: str) -> str:
        # The domain's keys start with the session id ("session:user:what"): its hash tag.
        session_id, separator, rest = key.partition(":")
        return session_key(self._prefix, session_id, separator + rest)

    async def hit(self, key: str, limit: int, window: timedelta) -> timedelta | None:
        now_ms = int(self._clock.now().timestamp() * 1000)
        window_ms = int(window.total_seconds() * 1000)
        try:
            wait_ms = await self._script(keys=[self._key(key)], args=[now_ms, window_ms, limit, f"{now_ms}-{uuid.uuid4().hex[:8]}"])
        except REDIS_FAILURES as error:
            self._outage.failed(error)
            return None
        self._outage.recovered()
        wait_ms = int(wait_ms)
        return None if wait_ms < 0 else timedelta(milliseconds=max(wait_ms, 1))

    async def close(self) -> None:
        pass
