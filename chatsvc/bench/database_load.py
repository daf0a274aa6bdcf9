"""What the PostgreSQL under a run wrote: commits and rows written per second, from its own statistics.

`pg_stat_database` counts for the run's database (other clients of the same
database count as well); statistics reach it within PostgreSQL's stats
flush interval, so the run's window is read a second after it ends.
"""

from __future__ import annotations

from sqlalchemy import create_engine, text

from chatsvc.config import sync_database_url

QUERY = text(
    "SELECT xact_commit, tup_inserted + tup_updated + tup_deleted FROM pg_stat_database WHERE datname = current_database()"
)


def sample(url: str) -> tuple[int, int]:
    """Commits and rows written so far (blocking: call it on a thread)."""
    engine = create_engine(sync_database_url(url))
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_stat_clear_snapshot()"))
            commits, rows = connection.execute(QUERY).one()
    finally:
        engine.dispose()
    return int(commits), int(rows)


def rates(before: tuple[int, int], after: tuple[int, int], seconds: float) -> dict[str, float]:
    return {"commits_per_s": round((after[0] - before[0]) / seconds), "rows_per_s": round((after[1] - before[1]) / seconds)}
