"""Moderation and safety: deletes, mutes, the chat policy, profanity strikes, rate limits, audit.

Instructors act only in sessions their token allows. Every action is an event
and an audit entry, written in the same transaction.
"""

from __future__ import annotations

from datetime import timedelta

from sessionchat.v1 import chat_pb2 as pb

from chatsvc.auth import Principal, Role
from chatsvc.clock import Clock, as_utc
from chatsvc.config import Settings
from chatsvc.domain import validation, views
from chatsvc.domain.events import Change, EventWriter
from chatsvc.domain.paging import page_of
from chatsvc.domain.profanity import ProfanityFilter
from chatsvc.domain.validation import enter_session
from chatsvc.domain.visibility import concerning, may_see, message_audience
from chatsvc.errors import ChatError, ErrorCode, denied, invalid, not_found
from chatsvc.metrics import CENSORED
from chatsvc.ratelimit import RateLimiter
from chatsvc.storage import repository as repo
from chatsvc.storage.database import Database
from chatsvc.storage.tables import AuditEntry, ChatSession, MuteRecord, Strike

MAX_MUTE_MINUTES = 366 * 24 * 60
MAX_REASON_LENGTH = 500
MAX_SLOW_MODE_SECONDS = 3600


def require_instructor(principal: Principal, what: str) -> None:
    if not principal.is_instructor:
        raise denied(f"only instructors may {what}")


def session_row(change: Change) -> ChatSession:
    """The session's row, which every change has (`EventWriter` creates it before the first)."""
    session = repo.get_session(change.db, change.session_id)
    if session is None:
        raise not_found(f"session {change.session_id!r} does not exist")
    return session


def describe_until(mute: MuteRecord) -> str:
    if mute.ends_at is None:
        return "you are muted in this session until an instructor unmutes you"
    return f"you are muted in this session until {as_utc(mute.ends_at).strftime('%Y-%m-%d %H:%M:%S')} UTC"


class Moderation:
    def __init__(
        self,
        database: Database,
        events: EventWriter,
        clock: Clock,
        settings: Settings,
        limiter: RateLimiter,
    ) -> None:
        self.database = database
        self.events = events
        self.clock = clock
        self.settings = settings
        self.limiter = limiter
        self.profanity = ProfanityFilter(
            extra_words=settings.profanity_extra_words,
            allowed_words=settings.profanity_allowed_words,
            languages=settings.profanity_languages,
        )

    # ------------------------------------------------------------ checks on senders

    async def limit_messages(self, principal: Principal, session_id: str) -> None:
        await self._limit(principal, session_id, "messages", self.settings.message_rate_limit, self.settings.message_rate_window_seconds)

    async def limit_reactions(self, principal: Principal, session_id: str) -> None:
        await self._limit(principal, session_id, "reactions", self.settings.reaction_rate_limit, self.settings.reaction_rate_window_seconds)

    async def limit_votes(self, principal: Principal, session_id: str) -> None:
        await self._limit(principal, session_id, "votes", self.settings.vote_rate_limit, self.settings.vote_rate_window_seconds)

    async def limit_questions(self, principal: Principal, session_id: str) -> None:
        """Questions count like messages (the same limit, a budget of their own)."""
        await self._limit(principal, session_id, "questions", self.settings.message_rate_limit, self.settings.message_rate_window_seconds)

    async def limit_upvotes(self, principal: Principal, session_id: str) -> None:
        """Upvotes count like reactions (the same limit, a budget of their own)."""
        await self._limit(principal, session_id, "upvotes", self.settings.reaction_rate_limit, self.settings.reaction_rate_window_seconds)

    async def _limit(self, principal: Principal, session_id: str, what: str, limit: int, window_seconds: int) -> None:
        if principal.is_instructor:
            return
        key = f"{session_id}:{principal.user_id}:{what}"
        wait = await self.limiter.hit(key, limit, timedelta(seconds=window_seconds))
        if wait is not None:
            raise ChatError(
                ErrorCode.RESOURCE_EXHAUSTED,
                f"too many {what}: at most {limit} every {window_seconds} seconds; "
                f"try again in {max(wait.total_seconds(), 0.001):.1f} s",
                retry_after=wait,
                reason="rate_limit",
            )

    def ensure_not_muted(self, change: Change, principal: Principal) -> None:
        """Refuse a muted user's sends; a mute whose time has passed ends here."""
        mute = self.mute_of(change, principal.user_id)
        if mute is None:
            return
        if mute.ends_at is not None and as_utc(mute.ends_at) <= change.now:
            self._end_mute(change, mute, unmuted_by=None)
            return
        raise ChatError(ErrorCode.FAILED_PRECONDITION, describe_until(mute), reason="mute")

    def check_sender(self, change: Change, principal: Principal, recipient_id: str) -> None:
        """May this user post this message now? (mute, policy, slow mode)"""
        self.ensure_not_muted(change, principal)
        if principal.is_instructor:
            return
        session = session_row(change)
        if recipient_id and not session.private_chat_enabled:
            raise ChatError(ErrorCode.PERMISSION_DENIED, "private chat is turned off in this session", reason="policy")
        if not recipient_id and session.public_chat == pb.PUBLIC_CHAT_INSTRUCTORS_ONLY:
            raise ChatError(ErrorCode.PERMISSION_DENIED, "public chat is limited to instructors in this session", reason="policy")
        if session.slow_mode_seconds:
            last = repo.last_message_time(change.db, change.session_id, principal.user_id)
            if last is not None:
                wait = as_utc(last) + timedelta(seconds=session.slow_mode_seconds) - change.now
                if wait > timedelta(0):
                    raise ChatError(
                        ErrorCode.RESOURCE_EXHAUSTED,
                        f"slow mode: one message every {session.slow_mode_seconds} seconds; "
                        f"try again in {wait.total_seconds():.1f} s",
                        retry_after=wait,
                        reason="slow_mode",
                    )

    def censor(self, text: str) -> tuple[str, bool]:
        """The text as everyone sees it, and whether it earns a strike: only severe words do (mild ones are just censored)."""
        verdict = self.profanity.check(text)
        if verdict.censored:
            CENSORED.labels("severe" if verdict.severe else "mild").inc()
        return verdict.text, verdict.severe

    def strike(self, change: Change, principal: Principal, message_id: str) -> None:
        """A message with a severe word by a participant is a strike; enough strikes mute them."""
        if principal.is_instructor:
            return
        db, session_id, user_id = change.db, change.session_id, principal.user_id
        db.add(Strike(session_id=session_id, user_id=user_id, message_id=message_id, created_at=change.now))
        self._audit(change, None, user_id, "strike", "profanity", message_id)
        db.flush()
        since = change.now - timedelta(seconds=self.settings.strike_window_seconds)
        active = repo.count_strikes(db, session_id, user_id, since)
        change.emit(concerning(user_id), strikes_changed=pb.StrikesChanged(user_id=user_id, active_strikes=active))
        if active >= self.settings.strikes_before_mute and self.mute_of(change, user_id) is None:
            reason = f"{active} profanity strikes within {self.settings.strike_window_seconds // 60} minutes"
            self._mute(change, user_id, None, self.settings.auto_mute_minutes, reason, automatic=True)

    # ------------------------------------------------------------ instructor actions

    async def delete_message(self, principal: Principal, session_id: str, message_id: str) -> tuple[pb.ChatMessage, int]:
        enter_session(principal, session_id)
        require_instructor(principal, "delete messages")
        if not message_id:
            raise invalid("message_id is required")

        def delete(change: Change) -> tuple[pb.ChatMessage, int]:
            message = repo.get_message(change.db, session_id, message_id)
            if message is None or not may_see(message, principal):
                raise not_found(f"message {message_id!r} does not exist in session {session_id!r}")
            if message.deleted_at is not None:
                return views.message(message), 0  # deleting twice is harmless
            message.deleted_at, message.deleted_by = change.now, principal.user_id
            change.db.add(message)
            event = change.emit(
                message_audience(message),
                message_deleted=pb.MessageDeleted(message_id=message.id, deleted_by=principal.user_id),
            )
            self._audit(change, principal.user_id, message.sender_id, "delete", "", message.id)
            if message.pinned_at is not None:  # a deleted message leaves the pinned list
                message.pinned_at, message.pinned_by = None, None
                change.emit(
                    message_audience(message),
                    message_unpinned=pb.MessageUnpinned(message_id=message.id, unpinned_by=principal.user_id),
                )
            return views.message(message), event.sequence

        return await self.events.run(session_id, delete)

    async def mute_user(
        self, principal: Principal, session_id: str, user_id: str, duration_minutes: int, reason: str
    ) -> tuple[pb.Mute, int]:
        enter_session(principal, session_id)
        require_instructor(principal, "mute users")
        validation.user_id(user_id)
        if not 0 <= duration_minutes <= MAX_MUTE_MINUTES:
            raise invalid(f"duration_minutes must be between 0 (permanent) and {MAX_MUTE_MINUTES}")
        if len(reason) > MAX_REASON_LENGTH:
            raise invalid(f"reason is longer than {MAX_REASON_LENGTH} characters")

        def mute(change: Change) -> tuple[pb.Mute, int]:
            member = repo.get_member(change.db, session_id, user_id)
            if member is None:
                raise not_found(f"user {user_id!r} has not joined session {session_id!r}")
            if member.role == Role.INSTRUCTOR.value:
                raise denied("instructors cannot be muted")
            row, sequence = self._mute(change, user_id, principal.user_id, duration_minutes, reason.strip(), automatic=False)
            return views.mute(row), sequence

        return await self.events.run(session_id, mute)

    async def unmute_user(self, principal: Principal, session_id: str, user_id: str) -> int:
        enter_session(principal, session_id)
        require_instructor(principal, "unmute users")
        validation.user_id(user_id)

        def unmute(change: Change) -> int:
            mute = self.mute_of(change, user_id)
            if mute is None:
                return 0  # not muted: nothing to do
            return self._end_mute(change, mute, unmuted_by=principal.user_id)

        return await self.events.run(session_id, unmute)

    async def list_mutes(self, principal: Principal, session_id: str, *, page_size: int = 0, page_token: str = "") -> tuple[list[pb.Mute], str]:
        """The current mutes (expired ones end on the way), a page of them, and the next page's token."""
        enter_session(principal, session_id)
        require_instructor(principal, "list mutes")

        def current_mutes(change: Change) -> list[pb.Mute]:
            mutes = []
            for mute in list(self._mutes(change).values()):
                if mute.ends_at is not None and as_utc(mute.ends_at) <= change.now:
                    self._end_mute(change, mute, unmuted_by=None)
                else:
                    mutes.append(views.mute(mute))
            return mutes

        return page_of(await self.events.run(session_id, current_mutes), page_size=page_size, page_token=page_token, kind="mutes", session_id=session_id)

    async def get_policy(self, principal: Principal, session_id: str) -> pb.ChatPolicy:
        enter_session(principal, session_id)
        return await self.database.read(lambda db: views.policy(repo.get_session(db, session_id)))

    async def update_policy(self, principal: Principal, session_id: str, policy: pb.ChatPolicy) -> tuple[pb.ChatPolicy, int]:
        enter_session(principal, session_id)
        require_instructor(principal, "change the chat policy")
        if policy.public_chat not in (pb.PUBLIC_CHAT_EVERYONE, pb.PUBLIC_CHAT_INSTRUCTORS_ONLY):
            raise invalid("policy.public_chat must be PUBLIC_CHAT_EVERYONE or PUBLIC_CHAT_INSTRUCTORS_ONLY")
        if not 0 <= policy.slow_mode_seconds <= MAX_SLOW_MODE_SECONDS:
            raise invalid(f"policy.slow_mode_seconds must be between 0 (off) and {MAX_SLOW_MODE_SECONDS}")

        def update(change: Change) -> tuple[pb.ChatPolicy, int]:
            session = session_row(change)
            session.public_chat = policy.public_chat
            session.private_chat_enabled = policy.private_chat_enabled
            session.slow_mode_seconds = policy.slow_mode_seconds
            change.db.add(session)
            current = views.policy(session)
            event = change.emit(chat_policy_changed=pb.ChatPolicyChanged(policy=current, changed_by=principal.user_id))
            self._audit(change, principal.user_id, None, "policy", _describe_policy(current), None)
            return current, event.sequence

        return await self.events.run(session_id, update)

    async def clear_strikes(self, principal: Principal, session_id: str, user_id: str) -> int:
        enter_session(principal, session_id)
        require_instructor(principal, "clear strikes")
        validation.user_id(user_id)

        def clear(change: Change) -> int:
            repo.clear_strikes(change.db, session_id, user_id)
            event = change.emit(concerning(user_id), strikes_changed=pb.StrikesChanged(user_id=user_id, active_strikes=0))
            self._audit(change, principal.user_id, user_id, "clear_strikes", "", None)
            return event.sequence

        return await self.events.run(session_id, clear)

    async def list_audit(
        self, principal: Principal, session_id: str, *, page_size: int, page_token: str
    ) -> tuple[list[pb.AuditEvent], str]:
        enter_session(principal, session_id)
        require_instructor(principal, "read the audit log")
        limit = validation.page_size(page_size)
        before = validation.decode_page_token(page_token, "audit", session_id)
        before_id = int(before) if before is not None else None
        rows = await self.database.read(lambda db: repo.list_audit(db, session_id, before_id=before_id, limit=limit + 1))
        page, more = rows[:limit], len(rows) > limit
        token = ""
        if more:
            last_id = page[-1].id
            if last_id is None:
                raise RuntimeError("an audit entry read from the database has no id")
            token = validation.encode_page_token("audit", session_id, last_id)
        return [views.audit(row) for row in page], token

    # ------------------------------------------------------------ shared steps

    def _mute(
        self, change: Change, user_id: str, muted_by: str | None, minutes: int, reason: str, *, automatic: bool
    ) -> tuple[MuteRecord, int]:
        mute = self.mute_of(change, user_id)
        if mute is None:
            mute = MuteRecord(session_id=change.session_id, user_id=user_id, started_at=change.now)
            self._mutes(change)[user_id] = mute
        mute.muted_by, mute.reason, mute.automatic, mute.started_at = muted_by, reason, automatic, change.now
        mute.ends_at = change.now + timedelta(minutes=minutes) if minutes else None
        change.db.add(mute)
        event = change.emit(concerning(user_id), user_muted=pb.UserMuted(mute=views.mute(mute)))
        self._audit(change, muted_by, user_id, "auto_mute" if automatic else "mute", reason, None)
        return mute, event.sequence

    def _end_mute(self, change: Change, mute: MuteRecord, *, unmuted_by: str | None) -> int:
        change.db.delete(mute)
        self._mutes(change).pop(mute.user_id, None)
        expired = unmuted_by is None
        event = change.emit(
            concerning(mute.user_id),
            user_unmuted=pb.UserUnmuted(user_id=mute.user_id, unmuted_by=unmuted_by or "", expired=expired),
        )
        self._audit(change, unmuted_by, mute.user_id, "unmute", "mute expired" if expired else "", None)
        return event.sequence

    def mute_of(self, change: Change, user_id: str) -> MuteRecord | None:
        """The user's mute row in the session (its time may have passed), or None."""
        return self._mutes(change).get(user_id)

    @staticmethod
    def _mutes(change: Change) -> dict[str, MuteRecord]:
        # One query per change for every mute of the session: a batch of messages
        # from many senders checks them all without a query each.
        if change.mutes is None:
            change.mutes = {row.user_id: row for row in repo.all_mutes(change.db, change.session_id)}
        return change.mutes

    @staticmethod
    def _audit(change: Change, actor: str | None, target: str | None, action: str, reason: str, message_id: str | None) -> None:
        change.db.add(
            AuditEntry(
                session_id=change.session_id,
                actor_id=actor,
                target_user_id=target,
                action=action,
                reason=reason,
                message_id=message_id,
                created_at=change.now,
            )
        )


def _describe_policy(policy: pb.ChatPolicy) -> str:
    who = "everyone" if policy.public_chat == pb.PUBLIC_CHAT_EVERYONE else "instructors only"
    private = "on" if policy.private_chat_enabled else "off"
    return f"public chat: {who}; private chat: {private}; slow mode: {policy.slow_mode_seconds} s"
