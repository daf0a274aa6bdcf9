"""Full-text search over messages: SQLite FTS5 (`messages_search`, kept in step with
`messages` by triggers) or PostgreSQL's `search_vector` (a generated tsvector with a GIN
index); both made by migration 0006. Callers pass the query already rendered for the engine
(`domain/search_query.py`), so no user text is ever part of the SQL.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, text
from sqlmodel import Session, col, select

from chatsvc.storage.tables import Message

OPEN, CLOSE, ELLIPSIS = "«", "»", "…"
SNIPPET_WORDS = 16


def dialect(db: Session) -> str:
    return db.get_bind().dialect.name


def search(
    db: Session,
    sessions: Sequence[str],
    viewer_id: str,
    *,
    fts5_query: str,
    tsquery: str,
    relevance: bool,
    limit: int,
    offset: int,
) -> list[tuple[Message, str]]:
    """Messages of `sessions` that match, that `viewer_id` may see and that are not deleted,
    newest first (or best first), with a highlighted snippet each."""
    if dialect(db) == "postgresql":
        return _postgresql(db, sessions, viewer_id, tsquery, relevance, limit, offset)
    return _sqlite(db, sessions, viewer_id, fts5_query, relevance, limit, offset)


VISIBLE = "m.deleted_at IS NULL AND (m.recipient_id IS NULL OR m.sender_id = :viewer OR m.recipient_id = :viewer)"


def _sqlite(db: Session, sessions, viewer_id: str, query: str, relevance: bool, limit: int, offset: int) -> list[tuple[Message, str]]:
    # Newest first is the FTS index's own rowid order, backwards (rows are inserted in the order
    # they were posted): the engine walks its index from the end and stops at the page, instead
    # of sorting every match of a common word.
    order = "s.rank, s.rowid DESC" if relevance else "s.rowid DESC"
    statement = text(
        f"SELECT m.id, snippet(messages_search, 0, '{OPEN}', '{CLOSE}', '{ELLIPSIS}', {SNIPPET_WORDS}) "
        "FROM messages_search s JOIN messages m ON m.rowid = s.rowid "
        f"WHERE messages_search MATCH :query AND m.session_id IN :sessions AND {VISIBLE} "
        f"ORDER BY {order} LIMIT :limit OFFSET :offset"
    ).bindparams(bindparam("sessions", expanding=True))
    found = db.execute(statement, {"query": query, "sessions": list(sessions), "viewer": viewer_id, "limit": limit, "offset": offset}).all()
    return _with_rows(db, found)


def _postgresql(db: Session, sessions, viewer_id: str, query: str, relevance: bool, limit: int, offset: int) -> list[tuple[Message, str]]:
    # Newest first within one session follows the (session_id, sequence) index backwards, which
    # the planner may walk and stop at the page when a word is common.
    newest = "m.sequence DESC" if len(sessions) == 1 else "m.created_at DESC, m.sequence DESC"
    order = f"ts_rank(m.search_vector, q) DESC, {newest}" if relevance else newest
    options = f"StartSel={OPEN}, StopSel={CLOSE}, MaxWords={SNIPPET_WORDS}, MinWords=6, ShortWord=0, MaxFragments=1, FragmentDelimiter={ELLIPSIS}"
    # The headline is computed for the page only: the inner query picks the page's rows first.
    statement = text(
        "SELECT page.id, ts_headline('simple', page.text, to_tsquery('simple', :query), :options) FROM ("
        "SELECT m.id, m.text, m.created_at, m.sequence, ts_rank(m.search_vector, q) AS rank "
        "FROM messages m, to_tsquery('simple', :query) q "
        f"WHERE m.search_vector @@ q AND m.session_id IN :sessions AND {VISIBLE} "
        f"ORDER BY {order} LIMIT :limit OFFSET :offset) page "
        f"ORDER BY {'page.rank DESC, page.sequence DESC' if relevance else 'page.created_at DESC, page.sequence DESC'}"
    ).bindparams(bindparam("sessions", expanding=True))
    params = {"query": query, "options": options, "sessions": list(sessions), "viewer": viewer_id, "limit": limit, "offset": offset}
    return _with_rows(db, db.execute(statement, params).all())


def _with_rows(db: Session, found) -> list[tuple[Message, str]]:
    if not found:
        return []
    rows = {row.id: row for row in db.exec(select(Message).where(col(Message.id).in_([message_id for message_id, _ in found])))}
    return [(rows[message_id], snippet) for message_id, snippet in found if message_id in rows]
