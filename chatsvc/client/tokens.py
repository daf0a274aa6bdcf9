"""Tokens that renew themselves: a provider asked for a fresh token halfway through each token's life."""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable

import grpc
import jwt

# A function returning a fresh token (or an awaitable of one).
TokenProvider = Callable[[], "str | Awaitable[str]"]
# A token is renewed once this fraction of its remaining life has passed.
RENEW_FRACTION = 0.5
# ...but asked at most this often (a provider may hand out the same token until it is nearly expired).
MIN_RENEW_SECONDS = 0.2


def token_expiry(token: str) -> float | None:
    """The token's `exp` (epoch seconds), read without checking the signature (the server
    checks it); None when the token has none that can be read."""
    try:
        exp = jwt.decode(token, options={"verify_signature": False}).get("exp")
    except jwt.PyJWTError:
        return None
    return float(exp) if isinstance(exp, int | float) else None


class Tokens:
    """The token a client sends now: a fixed one, or the latest from a provider, renewed when due."""

    def __init__(self, token: str | TokenProvider) -> None:
        # With a provider, `token` is the latest one it gave, renewed at `_renew_at` (time.time()).
        self._provider: TokenProvider | None = None if isinstance(token, str) else token
        self.token = token if isinstance(token, str) else ""
        self._renew_at: float | None = None
        self.renewals = 0  # tokens fetched from the provider after the first

    async def fresh(self, *, force: bool = False) -> str:
        """The token to use now: a new one from the provider when the current one is
        halfway through its life (or `force`); the same token without a provider."""
        if self._provider is None:
            return self.token
        if force or not self.token or (self._renew_at is not None and time.time() >= self._renew_at):
            token = self._provider()
            if inspect.isawaitable(token):
                token = await token
            if self.token:
                self.renewals += 1
            self.token = token
            expires = token_expiry(token)
            if expires is None:
                self._renew_at = None
            else:
                self._renew_at = time.time() + max((expires - time.time()) * RENEW_FRACTION, MIN_RENEW_SECONDS)
        return self.token

    @property
    def renew_at(self) -> float | None:
        """When (time.time()) the current token is due for renewal; None without a provider."""
        return self._renew_at if self._provider is not None else None

    def renewable(self, error: grpc.aio.AioRpcError) -> bool:
        """A stream ended because its token expired, and the provider can give a fresh one."""
        return self._provider is not None and error.code() == grpc.StatusCode.UNAUTHENTICATED and "expired" in (error.details() or "")
