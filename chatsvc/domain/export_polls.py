"""Polls in the chat export: each poll (deleted ones left out) with its results as they stand,
final once closed. Who chose what appears only for named polls; an anonymous poll's voters
are never read here."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from chatsvc.domain import views
from chatsvc.domain.export_cells import iso, printable
from chatsvc.domain.poll_board import is_closed
from chatsvc.storage import polls as store


def poll_records(db: Session, session_id: str, now: datetime) -> list[dict]:
    """The session's polls as export records, oldest first."""
    rows = store.session_polls(db, session_id)
    tallies = store.tallies(db, [row.id for row in rows])
    voters = store.voters_by_option(db, [row.id for row in rows if not row.anonymous])
    records = []
    for row in rows:
        voter_count, counts = tallies.get(row.id, (0, {}))
        results = views.poll_results(row, voter_count, counts, None if row.anonymous else voters.get(row.id, {}))
        closed = is_closed(row, now)
        options = []
        for option, result in zip(row.options, results.options, strict=True):
            record = {"option_id": result.option_id, "text": option, "votes": result.vote_count, "percent": result.percent}
            if not row.anonymous:
                record["voters"] = list(result.voter_ids)
            options.append(record)
        records.append(
            {
                "poll_id": row.id,
                "question": row.question,
                "created_by": row.created_by,
                "created_at": iso(row.created_at),
                "state": "closed" if closed else "open",
                "closed_at": iso(row.closed_at or row.closes_at) if closed else None,
                "closed_by": row.closed_by,
                "multiple_choice": row.multiple_choice,
                "anonymous": row.anonymous,
                "results_hidden_until_closed": row.results_hidden,
                "instructors_vote": row.instructors_vote,
                "voter_count": voter_count,
                "options": options,
            }
        )
    return records


def _option_line(option: dict) -> str:
    line = f"{option['option_id']}. {option['text']}: {option['votes']} ({option['percent']:g}%)"
    if option.get("voters"):
        line += " by " + ", ".join(option["voters"])
    return line


def _describe(record: dict) -> str:
    kind = "anonymous" if record["anonymous"] else "named"
    choice = "multiple choice" if record["multiple_choice"] else "single choice"
    return f"{record['state']}, {kind}, {choice}, {record['voter_count']} voters"


def csv_poll_row(record: dict, columns: tuple[str, ...]) -> list[str]:
    """A poll as a row of the messages' columns: message_id `poll:<id>`, sender_role `poll`, and
    its question and results in `text`."""
    text = f"{record['question']} ({_describe(record)}): " + "; ".join(_option_line(option) for option in record["options"])
    cells = {
        "message_id": f"poll:{record['poll_id']}",
        "time": record["created_at"],
        "sender_id": record["created_by"],
        "sender_role": "poll",
        "private": "no",
        "text": text,
        "deleted": "no",
        "pinned": "no",
    }
    return [cells.get(column, "") for column in columns]


def text_polls(records: list[dict]) -> str:
    """The polls as the transcript's last section."""
    if not records:
        return ""
    lines = ["Polls", ""]
    for record in records:
        lines.append(f"[{record['created_at']}] Poll {record['poll_id']} by {record['created_by']} ({_describe(record)}): {record['question']}")
        lines.extend("    " + _option_line(option) for option in record["options"])
        if record["state"] == "closed":
            lines.append(f"    closed at {record['closed_at']}" + (f" by {record['closed_by']}" if record["closed_by"] else " (time limit)"))
        lines.append("")
    return printable("\n".join(lines)) + "\n"
