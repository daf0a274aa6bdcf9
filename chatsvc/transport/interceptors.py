"""Server interceptors: authentication, domain errors turned into statuses, and each call's
metrics and access-log line (`call_records.py`).

All wrap the method's behavior so that they run in the handler's own task:
the principal set here is what `current_principal()` returns in the servicer.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect

import grpc

from chatsvc.auth import Principal, TokenVerifier
from chatsvc.domain import validation
from chatsvc.errors import unauthenticated
from chatsvc.fanout.hub import StreamEnded
from chatsvc.transport.call_records import current_record, start_call
from chatsvc.transport.errors import as_chat_error, chat_error_status, to_status

_principal: contextvars.ContextVar[Principal] = contextvars.ContextVar("principal")
# When the call's token expires (epoch seconds): a live stream ends then unless refreshed.
_token_expiry: contextvars.ContextVar[float] = contextvars.ContextVar("token_expiry")

# Methods anyone may call: health checks and reflection (for grpcurl list/describe).
OPEN_METHOD_PREFIXES = ("/grpc.health.v1.", "/grpc.reflection.")


MAX_WRAPPED_HANDLERS = 256


def current_principal() -> Principal:
    return _principal.get()


def current_token_expiry() -> float:
    return _token_expiry.get()


def _wrap_handler(handler: grpc.RpcMethodHandler, before, on_error, method: str, access: bool) -> grpc.RpcMethodHandler:
    """The same handler whose behavior runs `before(context, repeated=...)` first and maps errors.

    `repeated` is true for unary calls, which a client makes again and again
    with the same token; a stream is authenticated once for its whole life.
    A single request (unary and server-streaming calls) has its string fields
    checked here; a bidi stream checks each action (servicer). Every exception
    becomes a status here: none falls through to grpc as UNKNOWN with its text.
    Every call is recorded (counted, timed, and logged when `access`) with the status it ended with.
    """
    single_request = handler.request_streaming is False

    def wrap(behavior, repeated: bool = False):
        if behavior is None:
            return None
        if inspect.isasyncgenfunction(behavior):

            async def generator(request, context):
                record = start_call(method)
                try:
                    if single_request:
                        record.about(request)
                    await before(context, repeated=repeated)
                    if single_request:
                        validation.request_fields(request)
                    async for response in behavior(request, context):
                        yield response
                except grpc.aio.AbortError:
                    raise
                except (asyncio.CancelledError, GeneratorExit):  # the client left mid-stream
                    record.cancelled()
                    raise
                except Exception as error:
                    await on_error(error, context, method)
                finally:
                    record.finish(access)

            return generator

        async def coroutine(request, context):
            record = start_call(method)
            try:
                if single_request:
                    record.about(request)
                await before(context, repeated=repeated)
                if single_request:
                    validation.request_fields(request)
                return await behavior(request, context)
            except grpc.aio.AbortError:
                raise
            except asyncio.CancelledError:
                record.cancelled()
                raise
            except Exception as error:
                await on_error(error, context, method)
            finally:
                record.finish(access)

        return coroutine

    # grpc's handlers are namedtuples (grpc._utilities.RpcMethodHandler); the stubs declare only their fields.
    return handler._replace(  # type: ignore[attr-defined]
        unary_unary=wrap(handler.unary_unary, repeated=True),
        unary_stream=wrap(handler.unary_stream),
        stream_unary=wrap(handler.stream_unary),
        stream_stream=wrap(handler.stream_stream),
    )


async def _abort(error: Exception, context: grpc.aio.ServicerContext, method: str) -> None:
    record = current_record()
    if isinstance(error, StreamEnded):
        if record is not None:
            record.failed(error)
        await context.abort_with_status(to_status(error.code, error.message))
    if context.done():
        if record is not None:
            record.cancelled()
        raise error  # the call is over (the client left): nobody to answer
    chat_error = as_chat_error(error, method)
    if record is not None:
        record.failed(chat_error)
    await context.abort_with_status(chat_error_status(chat_error))


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Checks `authorization: Bearer <JWT>` on every call except health and reflection,
    and answers a `ChatError` (or an ended stream) with its status and details."""

    def __init__(self, verifier: TokenVerifier, *, access_log: bool = False) -> None:
        self._verifier = verifier
        self._access_log = access_log  # one line per unary call and per stream end (chatsvc.access)
        # Each method's wrapped handler, built once: a live stream holds its handler
        # for its whole life, and a wrapper per call cost about 0.5 KB per stream.
        self._wrapped: dict[grpc.RpcMethodHandler, grpc.RpcMethodHandler] = {}

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        if handler is None or handler_call_details.method.startswith(OPEN_METHOD_PREFIXES):
            return handler
        wrapped = self._wrapped.get(handler)
        if wrapped is None:
            if len(self._wrapped) >= MAX_WRAPPED_HANDLERS:  # handlers made per call: do not grow
                self._wrapped.clear()
            wrapped = self._wrapped[handler] = _wrap_handler(
                handler, self._authenticate, _abort, handler_call_details.method, self._access_log
            )
        return wrapped

    async def _authenticate(self, context: grpc.aio.ServicerContext, *, repeated: bool) -> None:
        token = bearer_token(context.invocation_metadata() or ())
        await self._verifier.prepare(token)  # an identity provider's new key is fetched off the event loop
        # Remembering each stream's token would cost memory per subscriber for nothing.
        principal, expires = self._verifier.verify_expiring(token, remember=repeated)
        _principal.set(principal)
        _token_expiry.set(expires)
        record = current_record()
        if record is not None:
            record.user_id = principal.user_id


def bearer_token(metadata) -> str:
    values = [value for key, value in metadata if key == "authorization"]
    if not values:
        raise unauthenticated("missing 'authorization: Bearer <token>' metadata")
    scheme, _, token = str(values[0]).partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthenticated("the authorization metadata must be 'Bearer <token>'")
    return token.strip()
