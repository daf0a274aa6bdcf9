"""An identity provider's signing keys, fetched from its JWKS URL and selected by a token's `kid`."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import timedelta

import jwt

from chatsvc.errors import ChatError, ErrorCode, unauthenticated

log = logging.getLogger(__name__)

# A provider that does not answer within this long counts as down for this attempt.
FETCH_TIMEOUT_SECONDS = 5.0
# A kid is echoed in messages only this long: it comes from the caller.
SHOWN_KID_LENGTH = 64


class JwksKeys:
    """The signing keys a provider publishes, by `kid`.

    Keys are fetched on a thread (an HTTP request never blocks the event loop) and
    cached. A token naming a key not in the cache fetches the set again at once,
    so that a provider can rotate its keys with no restart; fetches happen at most
    once per `cooldown_seconds`, so tokens with made-up `kid`s cannot flood the
    provider, and calls arriving during a fetch wait for that one fetch. Keys older
    than `cache_seconds` are fetched again in the background (a key the provider
    removed stops working then). A failed fetch keeps the cached keys: tokens they
    signed keep working while the provider is down.
    """

    def __init__(
        self,
        url: str,
        *,
        cache_seconds: float = 300.0,
        cooldown_seconds: float = 10.0,
        timeout_seconds: float = FETCH_TIMEOUT_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.cache_seconds = cache_seconds
        self.cooldown_seconds = cooldown_seconds
        # PyJWKClient fetches and parses; the caching and rate limit are this class's.
        self._client = jwt.PyJWKClient(url, cache_jwk_set=False, timeout=timeout_seconds)
        self._keys: dict[str, jwt.PyJWK] = {}
        self._now = monotonic
        self._fetched_at: float | None = None  # the last fetch that succeeded
        self._attempted_at: float | None = None  # the last fetch started
        self._fetching: asyncio.Task[None] | None = None
        # Why the last fetch failed; None once one succeeds.
        self.failure: str | None = None
        self.fetches = 0

    def key(self, kid: str | None) -> jwt.PyJWK:
        """The cached key `kid` names, or UNAUTHENTICATED saying why there is none."""
        if not kid:
            raise unauthenticated("token has no 'kid' header: it must name the identity provider's key that signed it")
        key = self._keys.get(kid)
        if key is not None:
            return key
        if self._fetched_at is None:
            raise ChatError(
                ErrorCode.UNAUTHENTICATED,
                "cannot check tokens right now: the identity provider's signing keys could not be fetched; try again shortly",
                retry_after=timedelta(seconds=max(self.cooldown_seconds, 1.0)),
            )
        raise unauthenticated(
            f"token is signed with key {kid[:SHOWN_KID_LENGTH]!r}, which is not among the identity provider's published keys"
        )

    async def load(self, kid: str | None) -> None:
        """Have `kid`'s key cached if the provider publishes it: fetch now when it is unknown
        (unless a fetch started less than `cooldown_seconds` ago), in the background when the
        cache is old. Never raises: `key()` says what is missing."""
        if not kid:
            return
        if kid in self._keys:
            if self._fetched_at is not None and self._now() - self._fetched_at >= self.cache_seconds and self._may_fetch():
                self._start_fetch()
            return
        if self._fetching is None and not self._may_fetch():
            return
        await asyncio.shield(self._start_fetch())

    def start(self) -> None:
        """Begin fetching the keys in the background, so that the first token need not wait."""
        if self._may_fetch():
            self._start_fetch()

    async def close(self) -> None:
        if self._fetching is not None:
            self._fetching.cancel()

    def _may_fetch(self) -> bool:
        return self._attempted_at is None or self._now() - self._attempted_at >= self.cooldown_seconds

    def _start_fetch(self) -> asyncio.Task[None]:
        if self._fetching is None:
            self._attempted_at = self._now()
            self._fetching = asyncio.get_running_loop().create_task(self._fetch())
        return self._fetching

    async def _fetch(self) -> None:
        self.fetches += 1
        try:
            keys = await asyncio.to_thread(self._read)
        except Exception as error:  # any failure of the provider: keep what is cached
            self.failure = _describe(error)
            log.warning(
                "cannot fetch the identity provider's keys from %s: %s; %d cached keys stay in use",
                self.url, self.failure, len(self._keys),
            )
        else:
            if self.failure is not None:
                log.info("the identity provider's keys at %s can be fetched again", self.url)
            self._keys, self._fetched_at, self.failure = keys, self._now(), None
        finally:
            self._fetching = None

    def _read(self) -> dict[str, jwt.PyJWK]:
        """The published signing keys (on a thread). Symmetric (`oct`) keys are left out: a
        public key set must not be able to make the server accept HMAC tokens."""
        return {key.key_id: key for key in self._client.get_signing_keys() if key.key_id and key.key_type != "oct"}


def _describe(error: Exception) -> str:
    if isinstance(error, jwt.PyJWKClientConnectionError) and error.__cause__ is not None:
        return str(error.__cause__)
    return str(error) or type(error).__name__
