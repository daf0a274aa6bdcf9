"""One warning when Redis starts failing for an adapter, and one when it answers again.

Every Redis adapter degrades instead of failing its callers (events come from
the database, presence and typing stay per process, limits are off); an
operator needs to see that once per outage, not once per command. The same
changes are the `chatsvc_redis_outages_total` and `chatsvc_redis_failing` metrics.

On a Redis Cluster one master can be away while the others answer, so an
adapter's commands fail and succeed in turn: there an outage ends only when
no command has failed for `settle_seconds`, not at the first success.
"""

from __future__ import annotations

import logging
import time

from chatsvc.metrics import REDIS_COMPONENTS, REDIS_FAILING, REDIS_OUTAGES


class Outage:
    """Tracks whether an adapter's Redis commands are failing; logs and counts each change once."""

    def __init__(self, log: logging.Logger, component: str, *, down: str, up: str, settle_seconds: float = 0.0) -> None:
        assert component in REDIS_COMPONENTS, component  # a metric label: one of a fixed few
        self._log = log
        self._component = component
        self._down = down  # what the adapter does meanwhile; the error follows it
        self._up = up
        self.failing = False
        self._settle_seconds = settle_seconds
        self._last_failure = 0.0

    def failed(self, error: BaseException) -> None:
        self._last_failure = time.monotonic()
        if not self.failing:
            self.failing = True
            REDIS_OUTAGES.labels(self._component).inc()
            REDIS_FAILING.labels(self._component).inc()
            self._log.warning("%s: %s", self._down, str(error) or type(error).__name__, extra={"component": self._component})

    def recovered(self) -> None:
        if self.failing and time.monotonic() - self._last_failure >= self._settle_seconds:
            self.failing = False
            REDIS_FAILING.labels(self._component).dec()
            self._log.warning("%s", self._up, extra={"component": self._component})
