"""Schema migrations: the tables match the migrations, and upgrades keep every row."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sessionchat.v1 import chat_pb2 as pb
from sqlalchemy import text
from sqlmodel import SQLModel

from chatsvc.storage.chain import GENESIS, event_digest, link
from chatsvc.storage.database import Database
from chatsvc.transport.server import ChatServer
from tests.helpers import CHATSVC, Client, server_env

BOTH_BACKENDS = True


def not_search_index(item, name, kind, reflected, compare_to) -> bool:
    """The full-text index is the engine's, not a table the code maps (migration 0006)."""
    return not (name or "").startswith(("messages_search", "search_vector", "ix_messages_search"))


async def test_the_migrations_create_exactly_the_tables_the_code_uses(settings):
    database = Database(settings.database_url)
    await database.migrate()

    def differences(db):
        context = MigrationContext.configure(db.connection(), opts={"include_object": not_search_index})
        return compare_metadata(context, SQLModel.metadata)

    assert await database.read(differences) == []
    await database.close()


async def test_upgrading_a_database_of_the_first_migration_keeps_every_row(settings):
    database = Database(settings.database_url)
    await database.migrate("0001")
    now = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    message = pb.ChatMessage(message_id="m" * 32, session_id="old-class", sequence=1, sender_id="ann", text="from the old schema")
    payload = pb.Event(session_id="old-class", sequence=1, message_posted=message).SerializeToString()

    def insert_old_rows(db) -> None:
        db.execute(
            text("INSERT INTO chat_sessions (id, last_sequence, created_at, public_chat, private_chat_enabled, slow_mode_seconds) "
                 "VALUES ('old-class', 1, :now, 1, true, 0)"),
            {"now": now},
        )
        db.execute(
            text("INSERT INTO messages (id, session_id, sequence, sender_id, sender_name, sender_role, text, created_at, mentions) "
                 "VALUES (:id, 'old-class', 1, 'ann', 'Ann', 'instructor', 'from the old schema', :now, '[]')"),
            {"id": "m" * 32, "now": now},
        )
        db.execute(
            text("INSERT INTO events (session_id, sequence, everyone, instructors, payload, created_at) "
                 "VALUES ('old-class', 1, true, true, :payload, :now)"),
            {"payload": payload, "now": now},
        )

    await database.transaction(insert_old_rows)
    await database.close()

    result = subprocess.run(
        CHATSVC + ["migrate", "--database-url", settings.database_url], env=server_env(), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("upgraded the database schema from revision 0001 to "), result.stdout

    server = ChatServer(settings)
    await server.start()
    try:
        reader = Client(f"127.0.0.1:{server.port}", "bob")
        [kept] = (await reader.call("ListMessages", pb.ListMessagesRequest(session_id="old-class"))).messages
        assert kept.text == "from the old schema" and kept.sender_name == "Ann"
        found = await reader.call("SearchMessages", pb.SearchMessagesRequest(session_id="old-class", query="schema"))
        assert [hit.message.text for hit in found.hits] == ["from the old schema"]  # the search index was filled
        stream = reader.subscribe("old-class", last_sequence=0)
        started = (await stream.next("stream_started")).stream_started
        assert [m.text for m in started.snapshot.recent_messages] == ["from the old schema"]
        new = await reader.send("old-class", "after the upgrade")
        assert new.sequence == 3  # 1 was kept, 2 is bob's join
        # The hash chain was filled for the kept event, and new events chain on from it.
        database = Database(settings.database_url)
        rows = await database.read(
            lambda db: db.execute(text("SELECT payload, chain_hash FROM events WHERE session_id = 'old-class' ORDER BY sequence")).all()
        )
        await database.close()
        previous = GENESIS
        for stored, chain_hash in rows:
            previous = link(previous, event_digest(bytes(stored)))
            assert chain_hash == previous
        assert len(rows) == 3
        stream.cancel()
        await reader.close()
    finally:
        await server.stop(grace=1)
