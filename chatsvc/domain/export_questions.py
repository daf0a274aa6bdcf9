"""Questions in the chat export: every question of the Q&A queue (withdrawn ones too, marked),
oldest first, with its upvotes and answer. An anonymous question's asker is left out: an
export is a document that leaves the class, and anonymity was promised to the asker."""

from __future__ import annotations

from sqlmodel import Session

from chatsvc.domain.export_cells import iso, printable
from chatsvc.storage import questions as store


def question_records(db: Session, session_id: str) -> list[dict]:
    """The session's questions as export records, oldest first."""
    return [
        {
            "question_id": row.id,
            "text": row.text,
            "asker_id": None if row.anonymous else row.asker_id,
            "asker_name": None if row.anonymous else row.asker_name,
            "anonymous": row.anonymous,
            "asked_at": iso(row.created_at),
            "state": row.state,
            "upvotes": row.upvote_count,
            "answer_text": row.answer_text,
            "answered_live": row.answered_live,
            "answered_by": row.answered_by,
            "closed_at": iso(row.closed_at),
        }
        for row in store.session_questions(db, session_id)
    ]


def _outcome(record: dict) -> str:
    if record["state"] == "answered":
        how = f"answered: {record['answer_text']}" if record["answer_text"] else "answered"
        return how + (" (answered live)" if record["answered_live"] else "") + f" by {record['answered_by']} at {record['closed_at']}"
    if record["state"] == "open":
        return "open"
    by = f" by {record['answered_by']}" if record["state"] == "dismissed" else ""
    return f"{record['state']}{by} at {record['closed_at']}"


def _asker(record: dict) -> str:
    return "anonymous" if record["anonymous"] else f"{record['asker_name']} ({record['asker_id']})"


def csv_question_row(record: dict, columns: tuple[str, ...]) -> list[str]:
    """A question as a row of the messages' columns: message_id `question:<id>`, sender_role
    `question`, and the question, its upvotes and outcome in `text`."""
    cells = {
        "message_id": f"question:{record['question_id']}",
        "time": record["asked_at"],
        "sender_id": record["asker_id"] or "",
        "sender_name": record["asker_name"] or "",
        "sender_role": "question",
        "private": "no",
        "text": f"{record['text']} ({record['upvotes']} upvotes; {_outcome(record)})",
        "deleted": "no",
        "pinned": "no",
    }
    return [cells.get(column, "") for column in columns]


def text_questions(records: list[dict]) -> str:
    """The questions as the transcript's last section."""
    if not records:
        return ""
    lines = ["Questions", ""]
    for record in records:
        lines.append(f"[{record['asked_at']}] Question by {_asker(record)}, {record['upvotes']} upvotes: {record['text']}")
        lines.append(f"    {_outcome(record)}")
        lines.append("")
    return printable("\n".join(lines)) + "\n"
