"""Presence shared by every process through Redis, surviving crashed processes.

Each process writes one hash field per (process, user) it has streams for,
in one hash per session, and renews its heartbeat in a sorted set. A user is
online while a field of theirs belongs to a process whose heartbeat has not
expired. Every process regularly removes the fields of processes whose
heartbeat expired (in the sessions each listed), and reports those users as
gone, so a crashed process's users leave within `ttl` plus one check. Each
script touches one key, so the same code runs on a Redis Cluster.

A write can fail (Redis busy or away) or land out of order (a leave that
overtook its join on another pooled connection), so Redis is never trusted
to hold what this process meant: each process reconciles its own fields with
its live streams, at once after a write that failed or raced (retrying with
backoff while Redis fails), and every third of `ttl` in any case. The online
list is therefore right again moments after a burst or an outage ends,
whatever was lost on the way.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable

from chatsvc.auth import Principal, Role
from chatsvc.fanout.presence import LocalPresence
from chatsvc.fanout.redis.outage import Outage
from chatsvc.fanout.redis.pool import REDIS_FAILURES, Client, close_within, session_key, settle_seconds

log = logging.getLogger(__name__)

PREFIX = "chatsvc:presence:"  # + {session}: a hash of "origin/user" -> the user
ALIVE = "chatsvc:alive"  # a sorted set: each process (origin) and when its heartbeat expires
SESSIONS = "chatsvc:presence-sessions:"  # + origin: the sessions where that process wrote users

# Every script touches one key, so that on a cluster it runs on the master of that key's slot:
# whether another process is alive is not looked up inside a script, the caller passes the
# processes known dead (heartbeat expired) as the last arguments.

# KEYS: alive. ARGV: origin, ttl ms. Renews the origin's heartbeat (by Redis's clock, which
# every process shares); returns the origins whose heartbeat expired.
HEARTBEAT = """
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)
"""

DEAD_ORIGINS = """
local dead = {}
for i = FIRST_DEAD, #ARGV do dead[ARGV[i]] = true end
"""

# KEYS: hash. ARGV: origin, user id, value, then the dead origins.
# Returns 1 when no live process had this user in the session before.
CONNECT = (
    DEAD_ORIGINS.replace("FIRST_DEAD", "4")
    + """
local others = 0
for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
  local origin, user = string.match(field, '^([^/]+)/(.*)$')
  if user == ARGV[2] and origin ~= ARGV[1] and not dead[origin] then
    others = others + 1
  end
end
redis.call('HSET', KEYS[1], ARGV[1] .. '/' .. ARGV[2], ARGV[3])
if others == 0 then return 1 end
return 0
"""
)

# KEYS: hash. ARGV: origin, user id, then the dead origins. Returns 1 when no live process has the user left.
DISCONNECT = (
    DEAD_ORIGINS.replace("FIRST_DEAD", "3")
    + """
redis.call('HDEL', KEYS[1], ARGV[1] .. '/' .. ARGV[2])
for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
  local origin, user = string.match(field, '^([^/]+)/(.*)$')
  if user == ARGV[2] and not dead[origin] then return 0 end
end
return 1
"""
)

# KEYS: hash. ARGV: the dead origins. Removes their fields; returns the values of users now gone.
REAP = (
    DEAD_ORIGINS.replace("FIRST_DEAD", "1")
    + """
local fields = redis.call('HGETALL', KEYS[1])
local live, gone_values = {}, {}
for i = 1, #fields, 2 do
  local origin, user = string.match(fields[i], '^([^/]+)/(.*)$')
  if dead[origin] then
    redis.call('HDEL', KEYS[1], fields[i])
    gone_values[user] = fields[i + 1]
  else
    live[user] = true
  end
end
local gone = {}
for user, value in pairs(gone_values) do
  if not live[user] then table.insert(gone, value) end
end
return gone
"""
)

# KEYS: hash. ARGV: origin, then user id and value pairs: the users this process has
# streams for. Makes this origin's fields exactly those.
RECONCILE = """
local prefix = ARGV[1] .. '/'
local wanted = {}
for i = 2, #ARGV, 2 do wanted[ARGV[i]] = ARGV[i + 1] end
for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
  if string.sub(field, 1, #prefix) == prefix and not wanted[string.sub(field, #prefix + 1)] then
    redis.call('HDEL', KEYS[1], field)
  end
end
for user, value in pairs(wanted) do redis.call('HSET', KEYS[1], prefix .. user, value) end
return 0
"""

# After a failed reconciliation, try again after this long, doubling up to the cap.
RETRY_FIRST_SECONDS = 0.1
RETRY_CAP_SECONDS = 2.0

OnLeft = Callable[[str, Principal], Awaitable[None]]


def _value(principal: Principal) -> str:
    return json.dumps([principal.user_id, principal.display_name, principal.role.value])


def _principal(value: bytes | str) -> Principal:
    user_id, name, role = json.loads(value)
    return Principal(user_id=user_id, display_name=name, role=Role(role))


def _text(value: bytes | str) -> str:
    """A key or hash field as text (the client leaves responses as bytes)."""
    return value.decode() if isinstance(value, bytes) else value


class RedisPresence:
    def __init__(self, client: Client, *, ttl_seconds: float = 15.0) -> None:
        self.origin = uuid.uuid4().hex
        self._client = client  # the process's shared pool, closed by its owner
        self._ttl_ms = int(ttl_seconds * 1000)
        self._local = LocalPresence()  # this process's streams; also the answer while Redis is down
        self._sessions = SESSIONS + self.origin
        self._dead: list[str] = []  # origins whose heartbeat expired, as of the last heartbeat
        self._heartbeat = self._client.register_script(HEARTBEAT)
        self._connect = self._client.register_script(CONNECT)
        self._disconnect = self._client.register_script(DISCONNECT)
        self._reap = self._client.register_script(REAP)
        self._reconcile = self._client.register_script(RECONCILE)
        # Sessions where this process may have fields in Redis, and those whose
        # fields may differ from the live streams here (to reconcile soon).
        self._written: set[str] = set()
        self._dirty: set[str] = set()
        self._dirty_added = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self._outage = Outage(
            log,
            "presence",
            down="presence falls back to this process until Redis answers",
            up="presence is shared through Redis again",
            settle_seconds=settle_seconds(client),
        )

    async def start(self, on_left: OnLeft) -> None:
        await self._heartbeat_once()
        self._tasks = [asyncio.create_task(self._maintain(on_left)), asyncio.create_task(self._repair())]

    async def close(self, linger_seconds: float = 0.0) -> None:
        """Stop. Our users stay present for `linger_seconds` more (the presence grace of users
        whose streams a stopping server ended): a user who reconnects to another process meanwhile
        announces nothing, and the other processes' check removes the rest once it has passed."""
        await close_within("Redis presence", self._tasks)
        try:
            if linger_seconds > 0:
                await self._heartbeat(keys=[ALIVE], args=[self.origin, int(linger_seconds * 1000)])
            else:  # expired at once: the next process's check removes whatever fields of ours are left
                await self._client.zadd(ALIVE, {self.origin: 0})
        except REDIS_FAILURES:
            pass

    async def connect(self, session_id: str, principal: Principal) -> bool:
        if not self._local.count_up(session_id, principal):
            return False  # this process already has the user online
        new = session_id not in self._written
        self._written.add(session_id)
        try:
            if new:  # listed before the first write, so that our fields are found if we crash
                await self._client.sadd(self._sessions, session_id)
            first = await self._connect(keys=[session_key(PREFIX, session_id)], args=[self.origin, principal.user_id, _value(principal), *self._dead])
        except REDIS_FAILURES as error:
            self._outage.failed(error)
            self._mark_dirty(session_id)
            return True
        if not self._local.has(session_id, principal.user_id):
            self._mark_dirty(session_id)  # a leave ran meanwhile and may have reached Redis first
        return bool(first)

    async def disconnect(self, session_id: str, principal: Principal) -> bool:
        if not self._local.count_down(session_id, principal):
            return False
        try:
            last = await self._disconnect(keys=[session_key(PREFIX, session_id)], args=[self.origin, principal.user_id, *self._dead])
        except REDIS_FAILURES as error:
            self._outage.failed(error)
            self._mark_dirty(session_id)
            return True
        if self._local.has(session_id, principal.user_id):
            self._mark_dirty(session_id)  # a join ran meanwhile and may have reached Redis first
        return bool(last)

    def _mark_dirty(self, session_id: str) -> None:
        self._dirty.add(session_id)
        self._dirty_added.set()

    async def reconcile(self, session_id: str) -> None:
        """Make this process's fields in a session exactly its users with live streams here."""
        users = self._local.local_online(session_id)
        args: list[str] = [self.origin]
        for principal in users:
            args += [principal.user_id, _value(principal)]
        await self._reconcile(keys=[session_key(PREFIX, session_id)], args=args)
        if [p.user_id for p in self._local.local_online(session_id)] != [p.user_id for p in users]:
            self._mark_dirty(session_id)  # streams opened or closed during the round trip
        elif not users:
            self._written.discard(session_id)

    async def _reconcile_all(self, session_ids: set[str]) -> None:
        """Reconcile each session; one that fails stays dirty (then the error is raised)."""
        failure: Exception | None = None
        for session_id in sorted(session_ids):
            self._dirty.discard(session_id)
            try:
                await self.reconcile(session_id)
            except REDIS_FAILURES as error:
                self._mark_dirty(session_id)  # the repair task retries it with backoff
                failure = error
        if failure is not None:
            raise failure

    async def _repair(self) -> None:
        """Reconcile dirty sessions as soon as they are marked, retrying with backoff while Redis fails."""
        delay = RETRY_FIRST_SECONDS
        while True:
            await self._dirty_added.wait()
            self._dirty_added.clear()
            try:
                await self._reconcile_all(set(self._dirty))
                delay = RETRY_FIRST_SECONDS
            except REDIS_FAILURES as error:
                self._outage.failed(error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_CAP_SECONDS)
            except Exception:
                log.exception("reconciling presence failed")

    async def online(self, session_id: str) -> list[Principal]:
        try:
            fields = await self._client.hgetall(session_key(PREFIX, session_id))
        except REDIS_FAILURES as error:
            self._outage.failed(error)
            return self._local.local_online(session_id)
        dead = set(self._dead)
        people = {}
        for field, value in fields.items():
            if _text(field).split("/", 1)[0] not in dead:
                principal = _principal(value)
                people[principal.user_id] = principal
        return [people[user_id] for user_id in sorted(people)]

    async def _heartbeat_once(self) -> None:
        dead = await self._heartbeat(keys=[ALIVE], args=[self.origin, self._ttl_ms])
        self._dead = sorted(_text(origin) for origin in dead)
        # Whatever Redis holds for us now (lost in a restart, reaped after an outage longer
        # than the ttl, written out of order in a burst) becomes what our streams say.
        sessions = self._written | {session_id for session_id, _ in self._local.entries()}
        if sessions:
            await self._client.sadd(self._sessions, *sessions)
        await self._reconcile_all(sessions)

    async def _reap_dead(self, on_left: OnLeft) -> None:
        """Remove the users of processes whose heartbeat expired, reporting those now gone;
        then forget those processes (another process may be doing the same: each field is
        removed, and its user reported, once)."""
        dead = list(self._dead)
        for origin in dead:
            for session in await self._client.smembers(SESSIONS + origin):
                session_id = _text(session)
                for value in await self._reap(keys=[session_key(PREFIX, session_id)], args=dead):
                    await on_left(session_id, _principal(value))
            await self._client.delete(SESSIONS + origin)
            await self._client.zrem(ALIVE, origin)

    async def _maintain(self, on_left: OnLeft) -> None:
        """Keep this process alive in Redis, and report the users of dead processes as gone."""
        while True:
            await asyncio.sleep(self._ttl_ms / 3000)
            try:
                await self._heartbeat_once()
                await self._reap_dead(on_left)
                self._outage.recovered()
            except REDIS_FAILURES as error:
                self._outage.failed(error)
            except Exception:
                log.exception("presence maintenance failed")
