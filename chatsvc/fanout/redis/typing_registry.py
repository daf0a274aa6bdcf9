"""Typing state shared by every process through Redis (see chatsvc.fanout.typing_registry)."""

from __future__ import annotations

import json
import logging

from chatsvc.fanout.redis.outage import Outage
from chatsvc.fanout.redis.pool import REDIS_FAILURES, Client, session_key, settle_seconds
from chatsvc.fanout.typing_registry import LocalTypingRegistry, TypingKey

log = logging.getLogger(__name__)

PREFIX = "chatsvc:typing:"
# A session's hash lives a while after its last typing, then Redis drops it.
HASH_TTL_MS = 10 * 60 * 1000

# KEYS: hash. ARGV: field, token, now, deadline, ttl. Returns 1 when the user was not typing there.
BEGIN = """
local previous = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ' ' .. ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
if not previous then return 1 end
local deadline = tonumber(string.match(previous, ' (%d+)$'))
if deadline < tonumber(ARGV[3]) then return 1 end
return 0
"""

# KEYS: hash. ARGV: field, now. Returns 1 when the typing was active.
END = """
local previous = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[1], ARGV[1])
if not previous then return 0 end
local deadline = tonumber(string.match(previous, ' (%d+)$'))
if deadline < tonumber(ARGV[2]) then return 0 end
return 1
"""

# KEYS: hash. ARGV: field, token. Returns 1 when the token was the newest start.
EXPIRE = """
local previous = redis.call('HGET', KEYS[1], ARGV[1])
if previous and string.match(previous, '^(%S+) ') == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 1
end
return 0
"""


def _field(user_id: str, recipient_id: str) -> str:
    return json.dumps([user_id, recipient_id])


class RedisTypingRegistry:
    """If Redis fails, this process answers alone until it is back (one warning per outage)."""

    def __init__(self, client: Client) -> None:
        self._client = client  # the process's shared pool, closed by its owner
        self._begin = self._client.register_script(BEGIN)
        self._end = self._client.register_script(END)
        self._expire = self._client.register_script(EXPIRE)
        self._fallback = LocalTypingRegistry()
        self._outage = Outage(
            log,
            "typing",
            down="typing indicators are per process until Redis answers",
            up="typing indicators are shared through Redis again",
            settle_seconds=settle_seconds(client),
        )

    async def begin(self, key: TypingKey, token: str, now_ms: int, deadline_ms: int) -> bool:
        local = await self._fallback.begin(key, token, now_ms, deadline_ms)
        try:
            answer = await self._begin(keys=[session_key(PREFIX, key[0])], args=[_field(key[1], key[2]), token, now_ms, deadline_ms, HASH_TTL_MS])
        except REDIS_FAILURES as error:
            self._outage.failed(error)
            return local
        self._outage.recovered()
        return bool(answer)

    async def end(self, key: TypingKey, now_ms: int) -> bool:
        local = await self._fallback.end(key, now_ms)
        try:
            answer = await self._end(keys=[session_key(PREFIX, key[0])], args=[_field(key[1], key[2]), now_ms])
        except REDIS_FAILURES as error:
            self._outage.failed(error)
            return local
        self._outage.recovered()
        return bool(answer)

    async def expire(self, key: TypingKey, token: str) -> bool:
        local = await self._fallback.expire(key, token)
        try:
            answer = await self._expire(keys=[session_key(PREFIX, key[0])], args=[_field(key[1], key[2]), token])
        except REDIS_FAILURES as error:
            self._outage.failed(error)
            return local
        self._outage.recovered()
        return bool(answer)

    async def recipients(self, session_id: str, user_id: str) -> list[str]:
        try:
            fields = await self._client.hkeys(PREFIX + session_id)
        except REDIS_FAILURES as error:
            self._outage.failed(error)
            return await self._fallback.recipients(session_id, user_id)
        pairs = [json.loads(field) for field in fields]
        return [recipient for user, recipient in pairs if user == user_id]

    async def close(self) -> None:
        pass
