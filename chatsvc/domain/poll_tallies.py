"""Coalesced poll results: one `poll_results_changed` per poll per interval, not one event per vote.

At 1,000 participants voting within 10 seconds, an event per vote to everyone would be
1,000,000 deliveries; here each stream gets at most one tally per poll every
`poll_tally_interval_ms` (default 500 ms: two a second), and each voter has their own vote
in the answer to it at once.
"""

from __future__ import annotations

import asyncio
import logging

from chatsvc.config import Settings
from chatsvc.domain import views
from chatsvc.domain.events import Change, EventWriter
from chatsvc.domain.poll_board import is_closed, results_visible
from chatsvc.domain.visibility import instructors_only
from chatsvc.fanout.hub import EVERYONE
from chatsvc.storage import polls as store

log = logging.getLogger(__name__)

PollKey = tuple[str, str]  # (session id, poll id)


class PollTallies:
    """Announces a poll's tally after its votes change, at most once per interval per poll.

    The tally is counted in the transaction that announces it, after the votes it follows
    were committed, so it is exact: a vote committed after that count marks the poll again,
    and the next tally includes it. Tallies start at least an interval apart: the first
    after a quiet spell goes at once, the rest of a burst follow once per interval.
    """

    def __init__(self, *, events: EventWriter, settings: Settings) -> None:
        self.events = events
        self.interval = settings.poll_tally_interval_ms / 1000
        self._pending: dict[PollKey, asyncio.TimerHandle] = {}
        self._last_start: dict[PollKey, float] = {}
        self._tasks: set[asyncio.Task] = set()

    def changed(self, session_id: str, poll_id: str) -> None:
        """The poll's votes changed (committed): announce its tally soon."""
        key = (session_id, poll_id)
        if key in self._pending:
            return  # the tally already due will count this vote too
        loop = asyncio.get_running_loop()
        last = self._last_start.get(key)
        delay = 0.0 if last is None else max(0.0, last + self.interval - loop.time())
        self._pending[key] = loop.call_later(delay, self._start, key)

    def close(self) -> None:
        for timer in self._pending.values():
            timer.cancel()
        self._pending.clear()

    def _start(self, key: PollKey) -> None:
        loop = asyncio.get_running_loop()
        self._pending.pop(key, None)
        self._last_start[key] = loop.time()
        if len(self._last_start) > 10_000:
            self._last_start = {key: self._last_start[key]}
        task = loop.create_task(self._announce(*key))
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("announcing a poll's results failed", exc_info=task.exception())

    async def _announce(self, session_id: str, poll_id: str) -> None:
        def announce(change: Change) -> None:
            poll = store.get_poll(change.db, session_id, poll_id)
            if poll is None or poll.deleted_at is not None:
                return
            voter_count, counts = store.tallies(change.db, [poll.id])[poll.id]
            results = views.poll_results(poll, voter_count, counts)  # counts only: never who voted
            visible = results_visible(poll, instructor=False, closed=is_closed(poll, change.now))
            change.emit(EVERYONE if visible else instructors_only(), poll_results_changed=results)

        await self.events.run(session_id, announce)
