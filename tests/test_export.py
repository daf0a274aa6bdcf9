"""ExportChat: JSON, CSV and text, private and deleted messages, streamed in bounded memory."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import shutil
import sys
import tracemalloc
import unicodedata
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from sessionchat.v1 import chat_pb2 as pb
from sqlalchemy import update

from chatsvc.auth import mint_token
from chatsvc.domain.export import CSV_COLUMNS, EXPORT_CHUNK_BYTES
from chatsvc.storage import repository as repo
from chatsvc.storage.tables import ChatSession, Message, Reaction
from tests.helpers import SECRET, Client
from tests.support.streams import SESSION

ISO_UTC = "%Y-%m-%dT%H:%M:%S.%fZ"
TRICKY = 'Commas, "quotes", a\nnew line, émoji 🔥 and a tab\there'


async def export(client: Client, export_format: int, session: str = SESSION, **options) -> tuple[bytes, list[pb.ExportChatResponse]]:
    call = client.stub.ExportChat(
        pb.ExportChatRequest(session_id=session, format=export_format, **options), metadata=client.metadata
    )
    responses = [response async for response in call]
    return b"".join(r.data for r in responses), responses


def parse_time(value: str) -> datetime:
    return datetime.strptime(value, ISO_UTC).replace(tzinfo=UTC)


@pytest.fixture
async def classroom(alice, bob, carol):
    """A small chat with a reply, reactions, a pin, a mention, a private message and a deleted one."""
    streams = [client.subscribe(SESSION) for client in (alice, bob, carol)]
    for stream in streams:
        await stream.next("stream_started")
    welcome = await alice.send(SESSION, "Welcome! Today: colour theory")
    tricky = await bob.send(SESSION, TRICKY)
    reply = await carol.send(SESSION, "@bob nice one", reply_to_message_id=tricky.message_id)
    private = await bob.send(SESSION, "Can I leave early?", recipient_id="alice")
    deleted = await carol.send(SESSION, "something regrettable")
    for client, emoji in ((bob, "👍"), (carol, "👍"), (carol, "🔥")):
        await client.call("AddReaction", pb.AddReactionRequest(session_id=SESSION, message_id=welcome.message_id, emoji=emoji))
    await alice.call("PinMessage", pb.PinMessageRequest(session_id=SESSION, message_id=welcome.message_id))
    await alice.call("DeleteMessage", pb.DeleteMessageRequest(session_id=SESSION, message_id=deleted.message_id))
    yield {"welcome": welcome, "tricky": tricky, "reply": reply, "private": private, "deleted": deleted}
    for stream in streams:
        stream.cancel()


class TestAccess:
    async def test_participants_are_refused(self, bob, classroom):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await export(bob, pb.EXPORT_FORMAT_JSON)
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "only instructors" in caught.value.details()

    async def test_a_format_is_required(self, alice):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await export(alice, pb.EXPORT_FORMAT_UNSPECIFIED)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "EXPORT_FORMAT_CSV" in caught.value.details()

    async def test_a_session_outside_the_token_is_refused(self, connect):
        limited = connect("erin", "instructor", sessions=["elsewhere"])
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await export(limited, pb.EXPORT_FORMAT_TEXT)
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED

    async def test_an_empty_session_exports_an_empty_but_valid_file(self, alice):
        data, responses = await export(alice, pb.EXPORT_FORMAT_JSON, session="nothing-here")
        document = json.loads(data)
        assert document["messages"] == [] and document["session_id"] == "nothing-here"
        assert responses[0].content_type == "application/json"
        data, _ = await export(alice, pb.EXPORT_FORMAT_CSV, session="nothing-here")
        assert list(csv.reader(io.StringIO(data.decode()))) == [list(CSV_COLUMNS)]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
class TestContent:
    async def test_json_has_replies_reactions_pins_mentions_and_deleted_messages_without_text(self, alice, classroom):
        data, responses = await export(alice, pb.EXPORT_FORMAT_JSON)
        assert {r.content_type for r in responses} == {"application/json"}
        document = json.loads(data)
        assert document["session_id"] == SESSION and document["exported_by"] == "alice"
        assert not document["include_private"]
        parse_time(document["exported_at"])
        messages = {m["message_id"]: m for m in document["messages"]}
        assert list(messages) == [classroom[k].message_id for k in ("welcome", "tricky", "reply", "deleted")]
        assert [m["sequence"] for m in document["messages"]] == sorted(m["sequence"] for m in document["messages"])

        welcome = messages[classroom["welcome"].message_id]
        assert welcome["reactions"] == [{"emoji": "👍", "count": 2, "users": ["bob", "carol"]}, {"emoji": "🔥", "count": 1, "users": ["carol"]}]
        assert welcome["pinned"] and welcome["pinned_by"] == "alice"
        assert parse_time(welcome["pinned_at"]) >= parse_time(welcome["time"])
        assert welcome["sender_role"] == "instructor" and welcome["reply_to"] is None
        tricky = messages[classroom["tricky"].message_id]
        assert tricky["text"] == TRICKY and tricky["sender_name"] == "Bob"
        reply = messages[classroom["reply"].message_id]
        assert reply["reply_to"] == {"message_id": classroom["tricky"].message_id, "sender_id": "bob", "excerpt": TRICKY}
        assert reply["mentions"] == ["bob"]
        deleted = messages[classroom["deleted"].message_id]
        assert deleted["deleted"] and deleted["text"] == "" and deleted["deleted_by"] == "alice"
        parse_time(deleted["deleted_at"])
        assert abs(parse_time(tricky["time"]) - datetime.now(UTC)) < timedelta(minutes=1)

    async def test_private_messages_and_deleted_text_only_when_asked(self, alice, classroom, connect):
        data, _ = await export(alice, pb.EXPORT_FORMAT_JSON, include_private=True, include_deleted_text=True)
        messages = {m["message_id"]: m for m in json.loads(data)["messages"]}
        private = messages[classroom["private"].message_id]
        assert private["private"] and private["recipient_id"] == "alice" and private["text"] == "Can I leave early?"
        deleted = messages[classroom["deleted"].message_id]
        assert deleted["deleted"] and deleted["text"] == "something regrettable"
        # A private conversation belongs to its two parties: another instructor's export leaves it out.
        colleague = connect("dave", "instructor")
        data, _ = await export(colleague, pb.EXPORT_FORMAT_JSON, include_private=True)
        assert classroom["private"].message_id not in data.decode()

    async def test_csv_quoting_survives_commas_quotes_newlines_and_emoji(self, alice, classroom):
        data, responses = await export(alice, pb.EXPORT_FORMAT_CSV, include_private=True)
        assert responses[0].content_type == "text/csv; charset=utf-8"
        rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))
        assert [row["message_id"] for row in rows] == [
            classroom[k].message_id for k in ("welcome", "tricky", "reply", "private", "deleted")
        ]
        by_id = {row["message_id"]: row for row in rows}
        assert by_id[classroom["tricky"].message_id]["text"] == TRICKY
        assert by_id[classroom["welcome"].message_id]["reactions"] == "👍 2; 🔥 1"
        assert by_id[classroom["welcome"].message_id]["pinned"] == "yes"
        reply = by_id[classroom["reply"].message_id]
        assert (reply["reply_to_message_id"], reply["reply_to_excerpt"], reply["mentions"]) == (classroom["tricky"].message_id, TRICKY, "bob")
        assert by_id[classroom["private"].message_id]["recipient_id"] == "alice"
        deleted = by_id[classroom["deleted"].message_id]
        assert (deleted["deleted"], deleted["text"]) == ("yes", "")
        for row in rows:
            parse_time(row["time"])

    async def test_text_is_a_readable_transcript(self, alice, classroom):
        data, responses = await export(alice, pb.EXPORT_FORMAT_TEXT)
        assert responses[0].content_type == "text/plain; charset=utf-8"
        text = data.decode()
        assert text.startswith(f"Chat of session {SESSION} (public messages)")
        assert "Alice (alice, instructor): Welcome! Today: colour theory" in text
        assert "    reactions: 👍 2 (bob, carol), 🔥 1 (carol)" in text
        assert "    pinned by alice" in text
        assert 'Commas, "quotes", a\n    new line' in text
        assert '(in reply to bob: "Commas' in text
        assert "[deleted by alice" in text and "regrettable" not in text
        assert "Can I leave early?" not in text


async def generate_chat(server, session: str, count: int) -> list[str]:
    """Insert `count` messages straight into the database (fast setup); returns their texts."""
    start = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    texts = [f"Message {n}: " + ("a, \"b\"\nc 🔥 " if n % 7 == 0 else "") + "lorem ipsum dolor sit amet " * 6 for n in range(count)]
    rows = [
        {
            "id": uuid.uuid4().hex,
            "session_id": session,
            "sequence": n + 1,
            "sender_id": f"user{n % 50}",
            "sender_name": f"User {n % 50}",
            "sender_role": "participant",
            "recipient_id": None,
            "text": texts[n],
            "client_message_id": None,
            "created_at": start + timedelta(seconds=n),
            "deleted_at": None,
            "deleted_by": None,
            "reply_to_id": None,
            "mentions": [],
            "pinned_at": None,
            "pinned_by": None,
        }
        for n in range(count)
    ]
    reactions = [
        {"message_id": rows[n]["id"], "user_id": "user1", "emoji": "👍", "session_id": session, "display_name": "User 1", "created_at": start}
        for n in range(0, count, 10)
    ]
    def store(db) -> None:
        repo.ensure_session(db, session, start)
        connection = db.connection()
        connection.execute(Message.__table__.insert(), rows)
        connection.execute(Reaction.__table__.insert(), reactions)
        connection.execute(update(ChatSession.__table__).where(ChatSession.id == session).values(last_sequence=count))

    await server.database.transaction(store)
    return texts


async def export_to_file(client: Client, export_format: int, path: Path, session: str, *, trace: bool = False) -> tuple[int, int]:
    """Stream an export into a file; (file size, peak of the Python allocations traced meanwhile, when asked).

    The server runs in this process, so the trace covers the server's side of the export.
    """
    call = client.stub.ExportChat(pb.ExportChatRequest(session_id=session, format=export_format), metadata=client.metadata)
    largest = peak = 0
    if trace:
        tracemalloc.start()
    try:
        with path.open("wb") as out:
            async for response in call:
                largest = max(largest, len(response.data))
                out.write(response.data)
        if trace:
            _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert largest < EXPORT_CHUNK_BYTES + 16 * 1024, "chunks are about 64 KB"
    return path.stat().st_size, peak


async def test_a_large_chat_exports_correctly_in_bounded_memory(server, alice, tmp_path, capsys):
    count = 20_000
    texts = await generate_chat(server, "big-class", count)

    json_size, json_peak = await export_to_file(alice, pb.EXPORT_FORMAT_JSON, tmp_path / "chat.json", "big-class", trace=True)
    document = json.loads((tmp_path / "chat.json").read_text(encoding="utf-8"))
    assert [m["text"] for m in document["messages"]] == texts
    assert [m["sequence"] for m in document["messages"]] == list(range(1, count + 1))
    assert document["messages"][-1]["time"] == "2026-03-01T14:33:19.000Z"
    assert sum(1 for m in document["messages"] if m["reactions"]) == count // 10

    csv_size, _ = await export_to_file(alice, pb.EXPORT_FORMAT_CSV, tmp_path / "chat.csv", "big-class")
    with (tmp_path / "chat.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["text"] for row in rows] == texts
    assert sum(1 for row in rows if row["reactions"] == "👍 1") == count // 10

    with capsys.disabled():
        print(
            f"\nexport of {count} messages: JSON {json_size / 1e6:.1f} MB streamed with a traced peak of "
            f"{json_peak / 1e6:.2f} MB (CSV {csv_size / 1e6:.1f} MB)"
        )
    # Bounded: the server holds a page of rows and a chunk, never the whole file.
    assert json_peak < json_size / 3


# The README's line: grpcurl prints `bytes` fields base64-encoded in JSON; this turns the chunks back into the file.
README_EXPORT_LINE = """set -o pipefail
.venv/bin/grpcurl -plaintext -H "authorization: Bearer $TOKEN" \\
  -d '{"session_id": "physics-101", "format": "EXPORT_FORMAT_CSV", "include_private": true}' \\
  127.0.0.1:$PORT sessionchat.v1.SessionChat/ExportChat \\
  | python3 -c 'import base64, json, sys
text, decoder, at = sys.stdin.read(), json.JSONDecoder(), 0
while text[at:].strip():
    at += len(text[at:]) - len(text[at:].lstrip())
    response, at = decoder.raw_decode(text, at)
    sys.stdout.buffer.write(base64.b64decode(response.get("data", "")))' > physics-101.csv.part \\
  && mv physics-101.csv.part physics-101.csv
"""


async def test_the_readme_grpcurl_line_writes_the_export_file(server, alice, tmp_path):
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert README_EXPORT_LINE.replace("$PORT", "50051") in readme, "keep the README line and this test in step"
    for n in range(40):  # enough for several chunks
        await alice.send("physics-101", f"{n}: {TRICKY} " + "x" * 1900)
    token = mint_token(secret=SECRET, user_id="alice", name="Alice", role="instructor")
    # A checkout's directory: the tools extra's grpcurl in .venv/bin.
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "grpcurl").symlink_to(shutil.which("grpcurl") or Path(sys.executable).parent / "grpcurl")
    process = await asyncio.create_subprocess_exec(
        "bash", "-c", README_EXPORT_LINE,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "TOKEN": token, "PORT": str(server.port)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, output.decode()
    with (tmp_path / "physics-101.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["text"] for row in rows] == [f"{n}: {TRICKY} " + "x" * 1900 for n in range(40)]


# Cells a spreadsheet would run as formulas (OWASP CSV injection), and terminal control sequences.
FORMULAS = ['=HYPERLINK("http://evil.example","click")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1+1)", "\t=1+1", "\r=1+1"]
TERMINAL_TRICKS = "\x1b[31mred\x1b[0m alert \x1b]0;pwned\x07 bell\x07 back\x08 csi\x9b2J bidi\u202eevil"


async def insert_messages(server, session: str, specs: list[dict]) -> None:
    """Store messages straight into the database, as earlier versions or other tools may have
    (the input checks of today's API must not be what keeps an export safe)."""
    start = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    rows = []
    for n, spec in enumerate(specs):
        row = {
            "id": uuid.uuid4().hex, "session_id": session, "sequence": n + 1, "sender_id": "bob", "sender_name": "Bob",
            "sender_role": "participant", "recipient_id": None, "text": "", "client_message_id": None,
            "created_at": start + timedelta(seconds=n), "deleted_at": None, "deleted_by": None, "reply_to_id": None,
            "mentions": [], "pinned_at": None, "pinned_by": None,
        }
        row.update(spec)
        rows.append(row)

    def store(db) -> None:
        repo.ensure_session(db, session, start)
        db.connection().execute(Message.__table__.insert(), rows)
        db.connection().execute(update(ChatSession.__table__).where(ChatSession.id == session).values(last_sequence=len(rows)))

    await server.database.transaction(store)


class TestHostileContent:
    async def test_csv_cells_that_a_spreadsheet_would_run_as_formulas_are_neutralised(self, server, alice):
        first = uuid.uuid4().hex
        specs = [{"text": text} for text in FORMULAS]
        specs[0]["id"] = first
        specs.append({"sender_id": "@evil", "sender_name": "=cmd|' /C calc'!A0", "mentions": ["-x", "@y"], "reply_to_id": first, "text": "+reply"})
        await insert_messages(server, SESSION, specs)
        data, _ = await export(alice, pb.EXPORT_FORMAT_CSV)
        rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
        assert rows[0] == list(CSV_COLUMNS)
        for row in rows[1:]:
            for cell in row:
                assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), f"cell {cell!r} would run as a formula"
        records = list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))
        assert [r["text"] for r in records[: len(FORMULAS)]] == ["'" + text for text in FORMULAS]
        last = records[-1]
        assert (last["sender_id"], last["sender_name"], last["text"]) == ("'@evil", "'=cmd|' /C calc'!A0", "'+reply")
        assert last["mentions"] == "'-x @y" and last["reply_to_excerpt"] == "'" + FORMULAS[0]

    async def test_the_text_export_carries_no_terminal_escape_or_control_characters(self, server, alice):
        await insert_messages(server, SESSION, [{"text": TERMINAL_TRICKS, "sender_name": "\x1b[2JBob"}])
        data, _ = await export(alice, pb.EXPORT_FORMAT_TEXT)
        text = data.decode("utf-8")
        assert "\x1b" not in text and "\x9b" not in text and "\u202e" not in text
        assert [c for c in text if unicodedata.category(c) == "Cc" and c != "\n"] == []
        assert "red alert" in text and "Bob (bob, participant)" in text
