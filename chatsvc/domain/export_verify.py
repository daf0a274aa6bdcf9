"""`chatsvc verify EXPORT_FILE`: recompute a JSON export's hash chain from the file alone.

An export is complete and unaltered when its chain entries run 1, 2, 3, … up to the head;
every message named in the chain is in `messages`, in sequence order, with a text whose
SHA-256 is its `text_sha256` (a text left out — a deleted message — counts as redacted,
and its digest still links the chain); a message marked deleted has its deletion in the
chain after it (the deletion's stored bytes are in the export, so a text blanked by whoever
holds the file is not passed off as deleted); every message in `messages` is named in the chain;
each entry's recomputed chain hash equals the one written; and the last is the head. With
a public key, the signature over the session, the head and the export time must verify too.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from google.protobuf.message import DecodeError
from sessionchat.v1 import chat_pb2 as pb

from chatsvc.domain.export_chain import signed_statement
from chatsvc.storage.chain import GENESIS, link, message_digest, sha256


@dataclass
class Verdict:
    ok: bool
    summary: str
    redacted: list[int] = field(default_factory=list)  # sequences of messages whose text was left out


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Broken(Exception):
    pass


class UnusableKey(Exception):
    """The public key given to check the signature with cannot be used (nothing about the export)."""


def verify(document: bytes, public_key_pem: bytes | None = None) -> Verdict:
    try:
        return _verify(document, public_key_pem)
    except Broken as broken:
        return Verdict(False, str(broken))


def _verify(document: bytes, public_key_pem: bytes | None) -> Verdict:
    try:
        export = json.loads(document)
        messages, entries, head = export["messages"], export["chain"], export["chain_head"]
    except (ValueError, KeyError, TypeError):
        raise Broken("not a SessionChat JSON export with a hash chain (messages, chain, chain_head)") from None
    by_id: dict[str, dict] = {}
    previous_sequence = 0
    for position, record in enumerate(messages, start=1):
        sequence = record.get("sequence")
        if not isinstance(sequence, int) or sequence <= previous_sequence:
            raise Broken(f"message record {position} (sequence {sequence}) is out of order: it follows sequence {previous_sequence}")
        previous_sequence = sequence
        by_id[record.get("message_id")] = record
    chained: set[str] = set()
    redacted: list[int] = []
    deletions: dict[str, tuple[int, pb.Event]] = {}  # deleted message id: the deletion's sequence and event
    previous = GENESIS
    for expected, entry in enumerate(entries, start=1):
        sequence = entry.get("sequence")
        if sequence != expected:
            raise Broken(f"the chain jumps from sequence {expected - 1} to {sequence}: record(s) {expected}… were removed")
        if "message_id" in entry:
            record = by_id.get(entry["message_id"])
            if record is None:
                raise Broken(f"sequence {sequence}: message {entry['message_id']} is in the chain but not in the export (removed)")
            chained.add(entry["message_id"])
            digest = _message_digest(record, sequence, redacted)
        elif "event" in entry:
            payload = _deletion(entry, sequence)
            deletions[entry["deleted_message_id"]] = (sequence, pb.Event.FromString(payload))
            digest = sha256(payload)
        else:
            digest = str(entry.get("digest", ""))
        previous = link(previous, digest)
        if previous != entry.get("chain_hash"):
            raise Broken(f"sequence {sequence}: the record does not match its chain hash (changed, or reordered)")
    unchained = [record["sequence"] for message_id, record in by_id.items() if message_id not in chained]
    if unchained:
        raise Broken(f"sequence {unchained[0]}: a message that is not in the chain (added)")
    for message_id, record in by_id.items():
        _check_deleted(record, deletions.get(message_id))
    last = entries[-1]["sequence"] if entries else 0
    if head.get("sequence") != last or head.get("chain_hash") != (previous if entries else GENESIS):
        raise Broken(f"the chain head (sequence {head.get('sequence')}) is not where the chain ends (sequence {last}): cut short or altered")
    summary = f"intact: {len(entries)} events, {len(messages)} messages, chain head {head['chain_hash']} at sequence {last}"
    if redacted:
        summary += f"; text left out (deleted) at sequence {', '.join(map(str, redacted))}"
    if deletions:
        summary += f"; deletions in the chain at sequence {', '.join(str(found[0]) for found in deletions.values())}"
    if public_key_pem is not None:
        _check_signature(export, head, public_key_pem)
        summary += "; signed by the given key"
    elif "signature" in export:
        summary += "; signed, but the signature was not checked (give --public-key with the key the server's operator published)"
    return Verdict(True, summary, redacted)


def _message_digest(record: dict, sequence: int, redacted: list[int]) -> str:
    if record.get("sequence") != sequence:
        raise Broken(f"sequence {sequence}: the message record says sequence {record.get('sequence')} (changed)")
    text, text_sha256 = record.get("text") or "", str(record.get("text_sha256", ""))
    if text and sha256(text) != text_sha256:
        raise Broken(f"sequence {sequence}: the text of message {record.get('message_id')} was changed")
    if not text and sha256("") != text_sha256:
        if record.get("deleted") is not True:
            raise Broken(f"sequence {sequence}: the text of message {record.get('message_id')} was removed, but it was not deleted")
        redacted.append(sequence)
    try:
        time = datetime.strptime(record["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        time_ms = (time - EPOCH) // timedelta(milliseconds=1)
    except (KeyError, TypeError, ValueError):
        raise Broken(f"sequence {sequence}: the message's time {record.get('time')!r} is not an export time") from None
    return message_digest(sequence, str(record.get("message_id")), str(record.get("sender_id")), record.get("recipient_id") or "", time_ms, text_sha256)


def _deletion(entry: dict, sequence: int) -> bytes:
    """The stored bytes of a deletion entry, once they are a deletion of the message it names."""
    try:
        payload = base64.b64decode(str(entry["event"]), validate=True)
        event = pb.Event.FromString(payload)
    except (ValueError, DecodeError):
        raise Broken(f"sequence {sequence}: the deletion's event is not a stored event (altered)") from None
    if event.sequence != sequence or event.WhichOneof("kind") != "message_deleted" or event.message_deleted.message_id != entry.get("deleted_message_id"):
        raise Broken(f"sequence {sequence}: the entry says it deletes {entry.get('deleted_message_id')}, but its event does not (altered)")
    return payload


def _check_deleted(record: dict, deletion: tuple[int, pb.Event] | None) -> None:
    """A record marked deleted has its deletion in the chain, after it, by whom the record says."""
    sequence, message_id = record["sequence"], record.get("message_id")
    if record.get("deleted") is not True:
        return  # a deletion after the export read the record; the summary lists it either way
    if deletion is None or deletion[0] < sequence:
        raise Broken(f"sequence {sequence}: message {message_id} is marked deleted, but the chain holds no deletion of it (altered)")
    if record.get("deleted_by") != deletion[1].message_deleted.deleted_by:
        raise Broken(f"sequence {sequence}: message {message_id} was deleted by {deletion[1].message_deleted.deleted_by}, "
                     f"not {record.get('deleted_by')} (altered)")


def _check_signature(export: dict, head: dict, public_key_pem: bytes) -> None:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    signature = export.get("signature")
    if not isinstance(signature, dict):
        raise Broken("the export is not signed")
    try:
        key = serialization.load_pem_public_key(public_key_pem)
    except (ValueError, TypeError):
        raise UnusableKey("the public key file is not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise UnusableKey("the public key is not an Ed25519 key")
    try:
        key.verify(base64.b64decode(signature.get("value", "")), signed_statement(export.get("session_id", ""), head, export.get("exported_at", "")))
    except (InvalidSignature, ValueError):
        raise Broken("the signature does not verify with this key: not signed by it, or the head, session or time were altered") from None
