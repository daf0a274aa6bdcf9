"""The hash chain in an export: every event of the session up to the export's last sequence,
so that `chatsvc verify` can recompute it from the JSON alone. A message in the export is
named by its id (verify recomputes its digest from the message's record); the deletion of
such a message by its stored bytes (base64), so verify can tell a deleted message from a
text someone blanked; any other event — joins, reactions, another pair's private messages
and their deletions — by its digest. Optionally
signed: an Ed25519 signature over the session, the chain head and the export time.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlmodel import Session

from chatsvc.domain.export_cells import iso
from chatsvc.errors import StartupError
from chatsvc.storage import chain
from chatsvc.storage.tables import EventRecord, table_of

EVENTS = table_of(EventRecord)
PAGE = 5000


def chain_page(db: Session, session_id: str, after: int, through: int, messages_through: int, private_viewer_id: str | None) -> list[dict]:
    """The chain entries of events after `after` up to `through` (at most PAGE), oldest first:
    {sequence, message_id | deleted_message_id and event | digest, chain_hash}. A message event names its message when the
    export holds it: a public message, or a private one of `private_viewer_id`'s, posted by `messages_through`."""
    rows = db.connection().execute(
        select(EVENTS.c.sequence, EVENTS.c.payload, EVENTS.c.chain_hash, EVENTS.c.everyone, EVENTS.c.party_a, EVENTS.c.party_b)
        .where(EVENTS.c.session_id == session_id, EVENTS.c.sequence > after, EVENTS.c.sequence <= through)
        .order_by(EVENTS.c.sequence)
        .limit(PAGE)
    ).all()
    entries = []
    for sequence, payload, chain_hash, everyone, party_a, party_b in rows:
        payload = bytes(payload)
        kind, message_id = chain.message_id_of(payload)
        exported = everyone or (private_viewer_id is not None and private_viewer_id in (party_a, party_b))
        entry: dict = {"sequence": sequence}
        if kind == "posted" and exported and sequence <= messages_through:
            entry["message_id"] = message_id
        elif kind == "deleted" and exported:
            # The deletion of a message the export holds, with its stored bytes: the digest is
            # their SHA-256, and verify reads from them which message was deleted and by whom.
            entry["deleted_message_id"] = message_id
            entry["event"] = base64.b64encode(payload).decode()
        else:
            entry["digest"] = chain.event_digest(payload)
        entry["chain_hash"] = chain_hash
        entries.append(entry)
    return entries


def head_of(last: dict | None) -> dict:
    return {"sequence": last["sequence"], "chain_hash": last["chain_hash"]} if last else {"sequence": 0, "chain_hash": chain.GENESIS}


def signed_statement(session_id: str, head: dict, exported_at: str) -> bytes:
    """The bytes a signature covers (verify rebuilds them from the export)."""
    return json.dumps({"session_id": session_id, "chain_head": head, "exported_at": exported_at}, sort_keys=True, separators=(",", ":")).encode()


class ExportSigner:
    """Signs export heads with the server's Ed25519 key (CHATSVC_EXPORT_SIGNING_KEY, a PEM file)."""

    def __init__(self, path: str) -> None:
        try:
            key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
        except (OSError, ValueError) as error:
            raise StartupError(f"cannot read the export signing key {path}: {error}") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise StartupError(f"the export signing key {path} is not an Ed25519 private key")
        self.key = key
        public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.public_pem = public.decode()

    def sign(self, session_id: str, head: dict, exported_at: datetime) -> dict:
        statement = signed_statement(session_id, head, iso(exported_at) or "")
        return {"algorithm": "Ed25519", "value": base64.b64encode(self.key.sign(statement)).decode(), "public_key": self.public_pem}
