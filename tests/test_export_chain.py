"""Tamper-evident exports: the hash chain of a JSON export, `chatsvc verify`, signatures."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sessionchat.v1 import chat_pb2 as pb

from tests.helpers import CHATSVC, Client, server_env
from tests.support.streams import SESSION, opened

BOTH_BACKENDS = True


def write_key(path: Path) -> tuple[Path, Path]:
    key = Ed25519PrivateKey.generate()
    private = path / "signing.pem"
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    public = path / "public.pem"
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return private, public


@pytest.fixture
def keys(tmp_path_factory) -> tuple[Path, Path]:
    return write_key(tmp_path_factory.mktemp("keys"))


@pytest.fixture
def settings(settings, keys):
    settings.export_signing_key = str(keys[0])
    return settings


async def exported_from(client: Client, session_id: str, **fields) -> dict:
    request = pb.ExportChatRequest(session_id=session_id, format=pb.EXPORT_FORMAT_JSON, **fields)
    call = client.stub.ExportChat(request, metadata=client.metadata)
    return json.loads(b"".join([response.data async for response in call]))


async def exported(client: Client, **fields) -> dict:
    return await exported_from(client, SESSION, **fields)


def verify(tmp_path: Path, document: dict, *options: str) -> tuple[int, str]:
    path = tmp_path / "export.json"
    path.write_text(json.dumps(document, ensure_ascii=False))
    result = subprocess.run(CHATSVC + ["verify", str(path), *options], env=server_env(), capture_output=True, text=True, timeout=60)
    return result.returncode, (result.stdout + result.stderr).strip()


@pytest.fixture
async def lesson(alice, bob, carol) -> dict[str, pb.ChatMessage]:
    """A class: public messages, a private conversation alice's export does not hold, a reaction, a deletion."""
    (stream,) = await opened(carol)
    sent = {
        "welcome": await alice.send(SESSION, "Welcome to class"),
        "question": await bob.send(SESSION, "What is the homework?"),
        "private": await bob.send(SESSION, "I will be late", recipient_id="alice"),
        "answer": await alice.send(SESSION, "Chapter 4, exercises 1 to 3"),
        "oops": await carol.send(SESSION, "something I regret"),
        "thanks": await bob.send(SESSION, "Thanks!"),
    }
    await alice.call("AddReaction", pb.AddReactionRequest(session_id=SESSION, message_id=sent["answer"].message_id, emoji="👍"))
    await alice.call("DeleteMessage", pb.DeleteMessageRequest(session_id=SESSION, message_id=sent["oops"].message_id))
    stream.cancel()
    return sent


def record(document: dict, message: pb.ChatMessage) -> dict:
    return next(m for m in document["messages"] if m["message_id"] == message.message_id)


async def test_an_untouched_export_verifies_and_shows_the_redaction(alice, lesson, tmp_path, keys):
    document = await exported(alice)
    assert [entry["sequence"] for entry in document["chain"]] == list(range(1, document["chain_head"]["sequence"] + 1))
    assert lesson["private"].message_id not in json.dumps(document)  # another pair's message: only its digest is in the chain
    assert record(document, lesson["oops"])["text"] == ""  # deleted: its text left out, its digest kept
    code, output = verify(tmp_path, document, "--public-key", str(keys[1]))
    assert code == 0, output
    assert output.startswith("OK: intact:") and f"text left out (deleted) at sequence {lesson['oops'].sequence}" in output
    assert "signed by the given key" in output
    [deletion] = [entry for entry in document["chain"] if entry.get("deleted_message_id") == lesson["oops"].message_id]
    assert f"deletions in the chain at sequence {deletion['sequence']}" in output
    with_text = await exported(alice, include_private=True, include_deleted_text=True)
    code, output = verify(tmp_path, with_text)
    assert code == 0 and "left out" not in output, output


async def test_a_changed_word_fails_at_its_record(alice, lesson, tmp_path):
    document = await exported(alice)
    record(document, lesson["answer"])["text"] = "Chapter 5, exercises 1 to 3"
    code, output = verify(tmp_path, document)
    assert code == 1 and output == f"BROKEN: sequence {lesson['answer'].sequence}: the text of message {lesson['answer'].message_id} was changed"
    # Changing the digest too does not help: the chain hash no longer matches.
    changed = record(document, lesson["answer"])
    changed["text_sha256"] = __import__("hashlib").sha256(changed["text"].encode()).hexdigest()
    code, output = verify(tmp_path, document)
    assert code == 1 and output.startswith(f"BROKEN: sequence {lesson['answer'].sequence}: the record does not match its chain hash"), output


async def test_a_removed_line_fails_at_its_sequence(alice, lesson, tmp_path):
    document = await exported(alice)
    document["messages"].remove(record(document, lesson["question"]))
    code, output = verify(tmp_path, document)
    assert code == 1 and f"sequence {lesson['question'].sequence}: message {lesson['question'].message_id} is in the chain but not in the export" in output
    document["chain"] = [entry for entry in document["chain"] if entry["sequence"] != lesson["question"].sequence]
    code, output = verify(tmp_path, document)
    assert code == 1 and f"the chain jumps from sequence {lesson['question'].sequence - 1} to {lesson['question'].sequence + 1}" in output


async def test_a_reordered_pair_fails_where_the_order_breaks(alice, lesson, tmp_path):
    document = await exported(alice)
    messages = document["messages"]
    first, second = messages.index(record(document, lesson["answer"])), messages.index(record(document, lesson["thanks"]))
    messages[first], messages[second] = messages[second], messages[first]
    code, output = verify(tmp_path, document)
    # The first record whose sequence is lower than the one before it is named.
    assert code == 1 and f"BROKEN: message record {first + 2} (sequence " in output and "is out of order" in output, output
    # Swapping the texts instead keeps the order but breaks both records' digests: the first one is named.
    document = await exported(alice)
    a, b = record(document, lesson["answer"]), record(document, lesson["thanks"])
    for key in ("text", "text_sha256"):
        a[key], b[key] = b[key], a[key]
    code, output = verify(tmp_path, document)
    assert code == 1 and output.startswith(f"BROKEN: sequence {lesson['answer'].sequence}: the record does not match its chain hash"), output


async def test_a_text_blanked_and_marked_deleted_without_a_deletion_in_the_chain_fails(alice, lesson, tmp_path):
    document = await exported(alice)
    forged = record(document, lesson["answer"])
    forged.update(text="", deleted=True, deleted_by="alice")
    code, output = verify(tmp_path, document)
    assert code == 1 and output == (
        f"BROKEN: sequence {lesson['answer'].sequence}: message {lesson['answer'].message_id} is marked deleted, "
        "but the chain holds no deletion of it (altered)"
    )


async def test_an_altered_deletion_fails_at_its_record_and_a_hidden_one_still_shows(alice, lesson, tmp_path):
    document = await exported(alice, include_deleted_text=True)
    [deletion] = [entry for entry in document["chain"] if entry.get("deleted_message_id") == lesson["oops"].message_id]
    oops = record(document, lesson["oops"])
    oops["deleted"] = False  # a record read before its deletion: the chain still shows the deletion
    code, output = verify(tmp_path, document)
    assert code == 0 and f"deletions in the chain at sequence {deletion['sequence']}" in output, output
    oops["deleted"], oops["deleted_by"] = True, "bob"  # blaming someone else
    code, output = verify(tmp_path, document)
    assert code == 1 and output.endswith("was deleted by alice, not bob (altered)"), output
    oops["deleted_by"] = "alice"
    deletion["deleted_message_id"] = lesson["answer"].message_id  # pointing the deletion at another message
    code, output = verify(tmp_path, document)
    assert code == 1 and output == (
        f"BROKEN: sequence {deletion['sequence']}: the entry says it deletes {lesson['answer'].message_id}, but its event does not (altered)"
    )


async def test_a_message_deleted_while_the_export_runs_verifies_with_its_deletion(alice, bob, server, tmp_path):
    doomed = await bob.send(SESSION, "soon gone")
    await alice.send(SESSION, "this stays")
    exports = server.service.exports
    database, reads = exports.database, []

    class DeletingDuringTheExport:
        """The export's database, with a deletion committed after the export took its last sequence."""

        def __getattr__(self, name: str):
            return getattr(database, name)

        async def read(self, work):
            reads.append(work)
            if len(reads) == 2:  # the export has its last sequence and is about to read the messages
                await alice.call("DeleteMessage", pb.DeleteMessageRequest(session_id=SESSION, message_id=doomed.message_id))
            return await database.read(work)

    exports.database = DeletingDuringTheExport()
    try:
        document = await exported(alice)
    finally:
        exports.database = database
    assert record(document, doomed)["deleted"] is True and record(document, doomed)["text"] == ""
    code, output = verify(tmp_path, document)
    assert code == 0, output
    assert f"text left out (deleted) at sequence {doomed.sequence}" in output and "deletions in the chain at sequence" in output


async def test_the_signature_verifies_with_the_servers_key_only(alice, lesson, tmp_path, tmp_path_factory):
    document = await exported(alice)
    assert document["signature"]["algorithm"] == "Ed25519"
    _, other_public = write_key(tmp_path_factory.mktemp("other"))
    code, output = verify(tmp_path, document, "--public-key", str(other_public))
    assert code == 1 and "the signature does not verify with this key" in output
    public = tmp_path / "server.pem"
    public.write_text(document["signature"]["public_key"])
    document["exported_at"] = "2020-01-01T00:00:00.000Z"  # an altered export time
    code, output = verify(tmp_path, document, "--public-key", str(public))
    assert code == 1 and "the signature does not verify" in output
    not_a_key = tmp_path / "not-a-key.pem"
    not_a_key.write_text("hello")
    code, output = verify(tmp_path, document, "--public-key", str(not_a_key))
    assert code == 2 and output == f"chatsvc verify: the public key file is not a PEM public key: {not_a_key}"
    code, output = verify(tmp_path, {"messages": []})
    assert code == 1 and "not a SessionChat JSON export" in output


async def test_an_export_cut_short_with_its_head_moved_back_fails_only_the_signature(alice, lesson, tmp_path):
    await alice.send(SESSION, "See you next week")
    document = await exported(alice)
    code, output = verify(tmp_path, document)
    assert code == 0 and output.endswith("signed, but the signature was not checked (give --public-key with the key the server's operator published)")
    public = tmp_path / "server.pem"
    public.write_text(document["signature"]["public_key"])
    # Drop the last message and everything chained after it, and move the head back to match.
    last = document["messages"].pop()
    assert last["text"] == "See you next week"
    document["chain"] = [entry for entry in document["chain"] if entry["sequence"] < last["sequence"]]
    document["chain_head"] = {"sequence": document["chain"][-1]["sequence"], "chain_hash": document["chain"][-1]["chain_hash"]}
    code, output = verify(tmp_path, document)
    assert code == 0, output  # a consistent earlier export, as far as the chain alone can tell
    code, output = verify(tmp_path, document, "--public-key", str(public))
    assert code == 1 and "the signature does not verify with this key" in output


async def test_every_stored_event_is_chained_on_both_backends(alice, bob, settings, lesson):
    from sqlalchemy import text

    from chatsvc.storage.chain import GENESIS, event_digest, link
    from chatsvc.storage.database import Database

    database = Database(settings.database_url)
    rows = await database.read(lambda db: db.execute(
        text("SELECT payload, chain_hash FROM events WHERE session_id = :s ORDER BY sequence"), {"s": SESSION}).all())
    await database.close()
    previous = GENESIS
    for payload, chain_hash in rows:
        previous = link(previous, event_digest(bytes(payload)))
        assert chain_hash == previous
    assert len(rows) >= 9  # joins, six messages, a reaction, a deletion


async def test_events_stored_without_a_hash_by_an_older_process_are_chained_by_the_next_write(alice, settings, lesson, tmp_path):
    from datetime import UTC, datetime

    from chatsvc.storage import repository as repo
    from chatsvc.storage.database import Database

    def older_process_stores(db) -> None:  # what a server of a version before the chain writes
        sequence = repo.allocate_sequence(db, SESSION)
        event = pb.Event(session_id=SESSION, sequence=sequence, message_unpinned=pb.MessageUnpinned(message_id="m", unpinned_by="alice"))
        repo.insert_events(db, [dict(session_id=SESSION, sequence=sequence, everyone=True, instructors=False, party_a=None,
                                     party_b=None, payload=event.SerializeToString(), created_at=datetime.now(UTC))])

    database = Database(settings.database_url)
    await database.transaction(older_process_stores)
    await database.transaction(older_process_stores)
    await database.close()
    await alice.send(SESSION, "Back after the upgrade")
    code, output = verify(tmp_path, await exported(alice))
    assert code == 0, output
    await test_every_stored_event_is_chained_on_both_backends(alice, None, settings, lesson)

