"""The load a run puts on the servers behind the chat: Redis (per node) and PostgreSQL, over its publishing window."""

from __future__ import annotations

import asyncio

from chatsvc.bench import database_load, redis_load


class BackendLoad:
    def __init__(self, redis_url: str | None, database_url: str | None) -> None:
        self._redis_url = redis_url
        self._postgres_url = database_url if database_url and database_url.startswith("postgres") else None
        self._redis: redis_load.Sample | None = None
        self._postgres: tuple[int, int] | None = None

    async def start(self) -> None:
        if self._redis_url:
            self._redis = await asyncio.to_thread(redis_load.sample, self._redis_url)
        if self._postgres_url:
            self._postgres = await asyncio.to_thread(database_load.sample, self._postgres_url)

    async def finish(self, elapsed: float) -> dict:
        """The figures for the run's result: "redis" (per node) and "postgres", where measured."""
        figures: dict = {}
        if self._redis_url and self._redis is not None:
            figures["redis"] = redis_load.rates(self._redis, await asyncio.to_thread(redis_load.sample, self._redis_url), elapsed)
        if self._postgres_url and self._postgres is not None:
            await asyncio.sleep(1.0)  # PostgreSQL's statistics arrive within a second (the rates divide by the window alone)
            after = await asyncio.to_thread(database_load.sample, self._postgres_url)
            figures["postgres"] = database_load.rates(self._postgres, after, elapsed)
        return figures
