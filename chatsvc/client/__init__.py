"""A small asyncio client for backend services.

    async with ChatClient("127.0.0.1:50051", token) as chat:
        await chat.send_message("physics-101", "hello")
        async for event in chat.events("physics-101"):
            ...

`events()` reconnects with exponential backoff when the connection drops or
the server ends the stream (shutdown, slow consumer), and resumes from the
last sequence it yielded: its user sees every event once, in order. If the
server cannot fill the gap, the next `stream_started` says `recovered=False`
and carries a fresh snapshot. Each response says which sequence the server
sent before it (`previous_sequence`); when that is not the last one the
client holds, events were lost on the way and it resumes at once.

Tokens expire, and a live stream ends when its token does. Give the client a
token provider (a function, plain or async, that returns a fresh token) instead
of a token, and it asks for a new one halfway through each token's life: the
sender hands it to its stream (`refresh_token`), `events()` moves to a new
Subscribe with it (resuming from its last sequence, so nothing is missed), and
unary calls use it. A 3-hour class with 15-minute tokens never drops:

    async with ChatClient("127.0.0.1:50051", fetch_token) as chat:
        ...

Over TLS, trust the system's roots (`tls=True`) or name a CA, and present a client
certificate when the server requires one (`chatsvc serve --tls-client-ca`):

    ChatClient("chat.example.com:50051", token, tls=TlsOptions(ca_file="ca.pem", cert_file="svc.pem", key_file="svc.key"))

A service that posts a lot uses a sender: it sends on one `StreamEvents`
stream, many messages in flight at once (a unary `SendMessage` is accepted
only ~30 times a second while a server writes to a thousand streams):

    async with chat.sender("physics-101") as sender:
        sequence, message_id = await sender.send("hello")
"""

from __future__ import annotations

from chatsvc.client.chat_client import FINAL_CODES, ChatClient
from chatsvc.client.position import StreamPosition
from chatsvc.client.sender import MessageSender, SendRefused
from chatsvc.client.tls import TlsOptions
from chatsvc.client.tokens import TokenProvider, token_expiry

__all__ = ["FINAL_CODES", "ChatClient", "MessageSender", "SendRefused", "StreamPosition", "TlsOptions", "TokenProvider", "token_expiry"]
