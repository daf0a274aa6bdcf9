"""full-text search over messages

SQLite: an FTS5 table over messages' text (external content, keyed by the messages table's
rowid), kept in step by triggers. PostgreSQL: a generated tsvector column with a GIN index.
Both are filled for the rows already there. A later migration that rebuilds the messages
table on SQLite (Alembic's batch mode) drops the triggers with it and must create them again.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SQLITE_UP = [
    "CREATE VIRTUAL TABLE messages_search USING fts5(text, content='messages', content_rowid='rowid', "
    "tokenize='unicode61 remove_diacritics 0')",
    "CREATE TRIGGER messages_search_insert AFTER INSERT ON messages BEGIN "
    "INSERT INTO messages_search(rowid, text) VALUES (new.rowid, new.text); END",
    "CREATE TRIGGER messages_search_delete AFTER DELETE ON messages BEGIN "
    "INSERT INTO messages_search(messages_search, rowid, text) VALUES ('delete', old.rowid, old.text); END",
    "CREATE TRIGGER messages_search_update AFTER UPDATE OF text ON messages BEGIN "
    "INSERT INTO messages_search(messages_search, rowid, text) VALUES ('delete', old.rowid, old.text); "
    "INSERT INTO messages_search(rowid, text) VALUES (new.rowid, new.text); END",
    "INSERT INTO messages_search(messages_search) VALUES ('rebuild')",
]
SQLITE_DOWN = [
    "DROP TRIGGER messages_search_update",
    "DROP TRIGGER messages_search_delete",
    "DROP TRIGGER messages_search_insert",
    "DROP TABLE messages_search",
]
POSTGRESQL_UP = [
    "ALTER TABLE messages ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (to_tsvector('simple', text)) STORED",
    "CREATE INDEX ix_messages_search ON messages USING GIN (search_vector)",
]
POSTGRESQL_DOWN = ["DROP INDEX ix_messages_search", "ALTER TABLE messages DROP COLUMN search_vector"]


def upgrade() -> None:
    for statement in POSTGRESQL_UP if op.get_bind().dialect.name == "postgresql" else SQLITE_UP:
        op.execute(statement)


def downgrade() -> None:
    for statement in POSTGRESQL_DOWN if op.get_bind().dialect.name == "postgresql" else SQLITE_DOWN:
        op.execute(statement)
