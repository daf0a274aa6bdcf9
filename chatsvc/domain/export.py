"""Chat export for instructors: JSON, CSV or plain text, streamed in chunks.

The messages are read in pages of EXPORT_PAGE_ROWS (oldest first, up to the
sequence the export started at) and written out in chunks of about
EXPORT_CHUNK_BYTES, so memory stays bounded whatever the size of the chat.
No gRPC here.
"""

from __future__ import annotations

import csv
import functools
import io
import json
from collections.abc import AsyncIterator, Sequence
from datetime import datetime

from sessionchat.v1 import chat_pb2 as pb

from chatsvc.auth import Principal
from chatsvc.clock import Clock
from chatsvc.config import Settings
from chatsvc.domain import validation, views
from chatsvc.domain.export_buffer import ChunkBuffer
from chatsvc.domain.export_cells import iso, neutralise_cell, printable
from chatsvc.domain.export_chain import PAGE as CHAIN_PAGE
from chatsvc.domain.export_chain import ExportSigner, chain_page, head_of
from chatsvc.domain.export_polls import csv_poll_row, poll_records, text_polls
from chatsvc.domain.export_questions import csv_question_row, question_records, text_questions
from chatsvc.errors import denied, invalid
from chatsvc.storage import interactions as store
from chatsvc.storage import repository as repo
from chatsvc.storage.chain import sha256
from chatsvc.storage.database import Database
from chatsvc.storage.tables import Message

EXPORT_PAGE_ROWS = 500
EXPORT_CHUNK_BYTES = 64 * 1024
FORMAT_VERSION = 1

CSV_COLUMNS = (
    "sequence",
    "message_id",
    "time",
    "sender_id",
    "sender_name",
    "sender_role",
    "recipient_id",
    "private",
    "text",
    "deleted",
    "deleted_at",
    "deleted_by",
    "reply_to_message_id",
    "reply_to_sender_id",
    "reply_to_excerpt",
    "mentions",
    "pinned",
    "pinned_at",
    "pinned_by",
    "reactions",
)


class ChatExport:
    def __init__(self, *, database: Database, clock: Clock, settings: Settings) -> None:
        self.database = database
        self.clock = clock
        self.settings = settings
        self.signer = ExportSigner(settings.export_signing_key) if settings.export_signing_key else None

    async def export(
        self,
        principal: Principal,
        session_id: str,
        export_format: int,
        *,
        include_private: bool,
        include_deleted_text: bool,
    ) -> tuple[str, AsyncIterator[bytes]]:
        """Check the request, then return (content type, the chunks of the file).

        Private messages, when included, are the exporting instructor's own
        conversations: a private conversation belongs to its two parties.
        """
        validation.enter_session(principal, session_id)
        if not principal.is_instructor:
            raise denied("only instructors may export the chat")
        writers: dict[int, type[Writer]] = {pb.EXPORT_FORMAT_JSON: JsonWriter, pb.EXPORT_FORMAT_CSV: CsvWriter, pb.EXPORT_FORMAT_TEXT: TextWriter}
        if export_format not in writers:
            raise invalid("format must be EXPORT_FORMAT_JSON, EXPORT_FORMAT_CSV or EXPORT_FORMAT_TEXT")
        writer = writers[export_format](
            session_id=session_id,
            exporter=principal,
            exported_at=self.clock.now(),
            include_private=include_private,
            include_deleted_text=include_deleted_text,
            reaction_order=self.settings.reactions,
        )
        through = await self.database.read(lambda db: repo.last_sequence(db, session_id))
        return writer.content_type, self._chunks(writer, session_id, through, principal.user_id if include_private else None)

    async def _chunks(self, writer: Writer, session_id: str, through: int, private_viewer_id: str | None) -> AsyncIterator[bytes]:
        buffer = ChunkBuffer(EXPORT_CHUNK_BYTES)
        buffer.write(writer.start())
        after = 0
        while True:
            rows, reactions, originals = await self.database.read(
                functools.partial(self._page, session_id, after, through, private_viewer_id)
            )
            if not rows:
                break
            grouped = _group_reactions(reactions)
            for row in rows:
                buffer.write(writer.message(row, grouped.get(row.id, {}), originals.get(row.reply_to_id or "")))
                for chunk in buffer.full_chunks():
                    yield chunk
            after = rows[-1].sequence
            if len(rows) < EXPORT_PAGE_ROWS:
                break
        now = self.clock.now()
        polls, questions = await self.database.read(lambda db: (poll_records(db, session_id, now), question_records(db, session_id)))
        buffer.write(writer.end(polls, questions))
        # The chain runs to the session's newest event now, not to `through`: a message deleted
        # while the pages were read is marked deleted in its record, and its deletion (after
        # `through`) must be in the chain for verify to accept that. Messages posted after
        # `through` are in the chain by digest only, as they are not in the file.
        chain_through = await self.database.read(lambda db: repo.last_sequence(db, session_id))
        after, last = 0, None
        while True:  # the hash chain, a page of events at a time
            entries = await self.database.read(functools.partial(
                chain_page, session_id=session_id, after=after, through=chain_through, messages_through=through,
                private_viewer_id=private_viewer_id))
            if entries:
                buffer.write(writer.chain(entries))
                for chunk in buffer.full_chunks():
                    yield chunk
                after, last = entries[-1]["sequence"], entries[-1]
            if len(entries) < CHAIN_PAGE:
                break
        head = head_of(last)
        buffer.write(writer.finish(head, self.signer.sign(session_id, head, writer.exported_at) if self.signer else None))
        for chunk in buffer.rest():
            yield chunk


    @staticmethod
    def _page(session_id: str, after: int, through: int, private_viewer_id: str | None, db) -> tuple:
        """One page of messages after `after`, with their reactions and replied-to originals."""
        rows = store.messages_page(
            db,
            session_id,
            after_sequence=after,
            through_sequence=through,
            limit=EXPORT_PAGE_ROWS,
            private_viewer_id=private_viewer_id,
        )
        if not rows:
            return rows, [], {}
        reactions = store.reactions_for_messages(db, [row.id for row in rows])
        originals = store.messages_by_id(db, session_id, (row.reply_to_id for row in rows if row.reply_to_id))
        return rows, reactions, originals


def _group_reactions(rows) -> dict[str, dict[str, list[str]]]:
    """message id -> emoji -> user ids, in the order they reacted."""
    grouped: dict[str, dict[str, list[str]]] = {}
    for row in rows:
        grouped.setdefault(row.message_id, {}).setdefault(row.emoji, []).append(row.user_id)
    return grouped


class Writer:
    content_type = "application/octet-stream"

    def __init__(
        self,
        *,
        session_id: str,
        exporter: Principal,
        exported_at: datetime,
        include_private: bool,
        include_deleted_text: bool,
        reaction_order: Sequence[str],
    ) -> None:
        self.session_id = session_id
        self.exporter = exporter
        self.exported_at = exported_at
        self.include_private = include_private
        self.include_deleted_text = include_deleted_text
        self._order = {emoji: index for index, emoji in enumerate(reaction_order)}

    def start(self) -> str:
        return ""

    def message(self, row: Message, reactions: dict[str, list[str]], original: Message | None) -> str:
        raise NotImplementedError

    def end(self, polls: list[dict], questions: list[dict]) -> str:
        """After the messages: the polls and questions (export records)."""
        return ""

    def chain(self, entries: list[dict]) -> str:
        """A page of the hash chain's entries (`export_chain.py`)."""
        return ""

    def finish(self, head: dict, signature: dict | None) -> str:
        """The chain head (and the signature over it), and whatever closes the file."""
        return ""

    def text_of(self, row: Message) -> str:
        return row.text if row.deleted_at is None or self.include_deleted_text else ""

    def ordered(self, reactions: dict[str, list[str]]) -> list[tuple[str, list[str]]]:
        return sorted(reactions.items(), key=lambda item: self._order.get(item[0], len(self._order)))

    def record(self, row: Message, reactions: dict[str, list[str]], original: Message | None) -> dict:
        reply = None
        if row.reply_to_id:
            reply = {"message_id": row.reply_to_id, "sender_id": None, "excerpt": ""}
            if original is not None:
                ref = views.reply_ref(original)
                reply.update(sender_id=ref.sender_id, excerpt=ref.excerpt)
        return {
            "sequence": row.sequence,
            "message_id": row.id,
            "time": iso(row.created_at),
            "sender_id": row.sender_id,
            "sender_name": row.sender_name,
            "sender_role": row.sender_role,
            "recipient_id": row.recipient_id,
            "private": row.recipient_id is not None,
            "text": self.text_of(row),
            "text_sha256": sha256(row.text),  # what the hash chain covers, so a transcript without the text still verifies
            "deleted": row.deleted_at is not None,
            "deleted_at": iso(row.deleted_at),
            "deleted_by": row.deleted_by,
            "reply_to": reply,
            "mentions": list(row.mentions or ()),
            "pinned": row.pinned_at is not None,
            "pinned_at": iso(row.pinned_at),
            "pinned_by": row.pinned_by,
            "reactions": [{"emoji": e, "count": len(users), "users": users} for e, users in self.ordered(reactions)],
        }


class JsonWriter(Writer):
    """One JSON object: export details, then `messages`, oldest first, then `polls` (`export_polls.py`) and `questions` (`export_questions.py`)."""

    content_type = "application/json"

    def start(self) -> str:
        head = {
            "format_version": FORMAT_VERSION,
            "session_id": self.session_id,
            "exported_at": iso(self.exported_at),
            "exported_by": self.exporter.user_id,
            "include_private": self.include_private,
            "include_deleted_text": self.include_deleted_text,
        }
        self._first = True
        return json.dumps(head, ensure_ascii=False)[:-1] + ', "messages": ['

    def message(self, row: Message, reactions: dict[str, list[str]], original: Message | None) -> str:
        separator = "\n" if self._first else ",\n"
        self._first = False
        return separator + json.dumps(self.record(row, reactions, original), ensure_ascii=False)

    def end(self, polls: list[dict], questions: list[dict]) -> str:
        tail = json.dumps({"polls": polls, "questions": questions}, ensure_ascii=False)
        self._first = True
        return "\n], " + tail[1:-1] + ', "chain": ['

    def chain(self, entries: list[dict]) -> str:
        separator = "\n" if self._first else ",\n"
        self._first = False
        return separator + ",\n".join(json.dumps(entry) for entry in entries)

    def finish(self, head: dict, signature: dict | None) -> str:
        tail = {"chain_head": head} | ({"signature": signature} if signature else {})
        return "\n], " + json.dumps(tail)[1:] + "\n"


class CsvWriter(Writer):
    """RFC 4180 CSV (UTF-8, CRLF), one row per message with a header row, then one per poll
    (`export_polls.csv_poll_row`).

    Every text cell (texts, names, ids) that starts like a formula is prefixed
    with a single quote, so that a message cannot run in the instructor's spreadsheet.
    """

    content_type = "text/csv; charset=utf-8"

    def __init__(self, **options) -> None:
        super().__init__(**options)
        self._out = io.StringIO()
        self._csv = csv.writer(self._out)

    def _row(self, values) -> str:
        self._csv.writerow([neutralise_cell(value) for value in values])
        text = self._out.getvalue()
        self._out.seek(0)
        self._out.truncate()
        return text

    def start(self) -> str:
        return self._row(CSV_COLUMNS)

    def end(self, polls: list[dict], questions: list[dict]) -> str:
        rows = [csv_poll_row(record, CSV_COLUMNS) for record in polls] + [csv_question_row(record, CSV_COLUMNS) for record in questions]
        return "".join(self._row(row) for row in rows)

    def message(self, row: Message, reactions: dict[str, list[str]], original: Message | None) -> str:
        record = self.record(row, reactions, original)
        reply = record["reply_to"] or {}
        return self._row(
            [
                record["sequence"],
                record["message_id"],
                record["time"],
                record["sender_id"],
                record["sender_name"],
                record["sender_role"],
                record["recipient_id"] or "",
                "yes" if record["private"] else "no",
                record["text"],
                "yes" if record["deleted"] else "no",
                record["deleted_at"] or "",
                record["deleted_by"] or "",
                reply.get("message_id") or "",
                reply.get("sender_id") or "",
                reply.get("excerpt") or "",
                " ".join(record["mentions"]),
                "yes" if record["pinned"] else "no",
                record["pinned_at"] or "",
                record["pinned_by"] or "",
                # "👍 2; 🔥 1": a count glued to its emoji ("👍2") read as one odd symbol in spreadsheets.
                "; ".join(f"{item['emoji']} {item['count']}" for item in record["reactions"]),
            ]
        )


class TextWriter(Writer):
    """A transcript to read: one message per paragraph.

    Nothing in it can drive a terminal (`cat chat.txt` must not recolour,
    retitle or clear it): escape sequences and control characters are removed
    or shown as U+FFFD (`printable`).
    """

    content_type = "text/plain; charset=utf-8"

    def end(self, polls: list[dict], questions: list[dict]) -> str:
        return text_polls(polls) + text_questions(questions)

    def finish(self, head: dict, signature: dict | None) -> str:
        if not head["sequence"]:
            return ""
        return printable(f"Chain head: sequence {head['sequence']}, SHA-256 {head['chain_hash']} (verify the JSON export with `chatsvc verify`)") + "\n"

    def start(self) -> str:
        scope = "public and your private messages" if self.include_private else "public messages"
        return printable(
            f"Chat of session {self.session_id} ({scope}), exported {iso(self.exported_at)} "
            f"by {self.exporter.display_name} ({self.exporter.user_id})\n\n"
        )

    def message(self, row: Message, reactions: dict[str, list[str]], original: Message | None) -> str:
        who = f"{row.sender_name} ({row.sender_id}, {row.sender_role})"
        if row.recipient_id:
            who += f" privately to {row.recipient_id}"
        if row.deleted_at is not None:
            deleted = f"[deleted by {row.deleted_by or 'an instructor'} at {iso(row.deleted_at)}]"
            body = f"{deleted} {row.text}" if self.include_deleted_text else deleted
        else:
            body = row.text
        lines = [f"[{iso(row.created_at)}] {who}: " + printable(body).replace("\n", "\n    ")]
        if row.reply_to_id:
            if original is not None:
                ref = views.reply_ref(original)
                lines.append(f"    (in reply to {ref.sender_id}: \"{ref.excerpt}\")")
            else:
                lines.append(f"    (in reply to message {row.reply_to_id})")
        if row.mentions:
            lines.append("    mentions: " + ", ".join(row.mentions))
        if reactions:
            lines.append("    reactions: " + ", ".join(f"{e} {len(users)} ({', '.join(users)})" for e, users in self.ordered(reactions)))
        if row.pinned_at is not None:
            lines.append(f"    pinned by {row.pinned_by} at {iso(row.pinned_at)}")
        return printable("\n".join(lines)) + "\n\n"
