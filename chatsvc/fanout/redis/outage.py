"""One warning when Redis starts failing for an adapter, and one when it answers again.

Every Redis adapter degrades instead of failing its callers (events come from
the database, presence and typing stay per process, limits are off); an
operator needs to see that once per outage, not once per command.
"""

from __future__ import annotations

import logging


class Outage:
    """Tracks whether an adapter's Redis commands are failing; logs each change once."""

    def __init__(self, log: logging.Logger, *, down: str, up: str) -> None:
        self._log = log
        self._down = down  # what the adapter does meanwhile; the error follows it
        self._up = up
        self.failing = False

    def failed(self, error: BaseException) -> None:
        if not self.failing:
            self.failing = True
            self._log.warning("%s: %s", self._down, error)

    def recovered(self) -> None:
        if self.failing:
            self.failing = False
            self._log.warning("%s", self._up)
