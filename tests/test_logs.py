"""The server's log: `--log-format json` writes one JSON object per line with the call's method,
session and user, and the error id the client got; `--access-log` adds one line per unary call and
per stream end. By default the log is text and has no access lines."""

from __future__ import annotations

import json
import logging
import re

import grpc
import pytest
from sessionchat.v1 import chat_pb2 as pb
from sqlalchemy import create_engine, text

from chatsvc.config import sync_database_url
from chatsvc.processes import start_child
from tests.helpers import CHATSVC, SECRET, SERVER_TIMEOUT, SERVING, Client, refused, running, server_env
from tests.support.streams import SESSION, opened, subscribed


@pytest.fixture(scope="module")
async def logged(tmp_path_factory, postgres_server):
    """A run of `chatsvc serve --log-format json --access-log` on PostgreSQL: alice's stream stays open until
    the server stops, carol's Subscribe is cancelled, bob sends, and a lost table makes alice's
    ListAuditEvents fail unexpectedly. Yields (the log lines as objects, the error id alice got)."""
    directory = tmp_path_factory.mktemp("logs")
    database_url = postgres_server.new_database()
    env = server_env(CHATSVC_JWT_SECRET=SECRET, CHATSVC_DATABASE_URL=database_url)
    log = directory / "stderr.log"
    child = await start_child(
        [*CHATSVC, "serve", "--listen", "127.0.0.1:0", "--log-format", "json", "--access-log"],
        name="chatsvc serve", ready=SERVING, timeout=SERVER_TIMEOUT, grace=SERVER_TIMEOUT, cwd=directory, env=env, log=log,
    )
    target = child.ready_line.split()[-1]
    alice, bob, carol = Client(target, "alice", "instructor"), Client(target, "bob"), Client(target, "carol")
    try:
        await opened(alice)
        [carol_stream] = await subscribed(carol)
        await bob.send(SESSION, "hello")
        await carol_stream.next("message_posted")
        carol_stream.cancel()
        engine = create_engine(sync_database_url(database_url))
        with engine.begin() as connection:  # a real fault the code does not expect: the table is gone
            connection.execute(text("drop table audit_log"))
        engine.dispose()
        error = await refused(grpc.StatusCode.INTERNAL, alice.call("ListAuditEvents", pb.ListAuditEventsRequest(session_id=SESSION)))
        error_id = re.search(r"error id ([0-9a-f]{12})", error.details() or "").group(1)
    finally:
        assert await child.stop() == 0
        for client in (alice, bob, carol):
            await client.close()
    lines = log.read_text().splitlines()
    yield [json.loads(line) for line in lines], error_id


def access(lines: list[dict], method: str) -> list[dict]:
    return [line for line in lines if line["logger"] == "chatsvc.access" and line["method"] == method]


async def test_every_log_line_is_one_json_object_with_time_level_logger_and_message(logged):
    lines, _ = logged
    assert len(lines) >= 6
    for line in lines:
        assert {"time", "level", "logger", "message"} <= line.keys(), line
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["time"]), line
    assert any(line["logger"] == "chatsvc.transport.server" and "listening on port" in line["message"] for line in lines)


async def test_an_unexpected_failure_is_logged_once_with_the_error_id_the_client_got_and_the_call_it_was_in(logged):
    lines, error_id = logged
    errors = [line for line in lines if line["level"] == "ERROR"]
    assert len(errors) == 1, errors
    [error] = errors
    assert error["error_id"] == error_id
    assert error["method"] == "ListAuditEvents" and error["session_id"] == SESSION and error["user_id"] == "alice"
    assert "Traceback" in error["exception"] and "audit_log" in error["exception"]
    [line] = access(lines, "ListAuditEvents")
    assert line["code"] == "INTERNAL" and line["error_id"] == error_id


async def test_one_access_line_per_unary_call_with_its_status_duration_session_and_user(logged):
    lines, _ = logged
    [line] = access(lines, "SendMessage")
    assert line["code"] == "OK" and line["session_id"] == SESSION and line["user_id"] == "bob"
    assert 0 < line["duration_ms"] < 10_000
    assert line["message"].startswith("SendMessage OK ")
    assert "events_sent" not in line


async def test_one_access_line_per_stream_end_with_the_events_it_sent_and_why_it_ended(logged):
    lines, _ = logged
    [cancelled] = access(lines, "Subscribe")
    assert cancelled["code"] == "CANCELLED" and cancelled["end_reason"] == "client_closed" and cancelled["user_id"] == "carol"
    assert cancelled["events_sent"] >= 2  # its start, and bob's message
    [shutdown] = access(lines, "StreamEvents")
    assert shutdown["code"] == "UNAVAILABLE" and shutdown["end_reason"] == "shutdown" and shutdown["session_id"] == SESSION
    assert shutdown["events_sent"] >= 3  # its start, carol's join and bob's message


async def test_by_default_there_are_no_access_lines(server, bob, caplog):
    with caplog.at_level(logging.INFO, logger="chatsvc.access"):
        await bob.send(SESSION, "hello")
    assert [record for record in caplog.records if record.name == "chatsvc.access"] == []


async def test_access_lines_are_text_unless_json_is_asked_for(settings, caplog):
    settings.access_log = True
    async with running(settings) as server:
        bob = Client(f"127.0.0.1:{server.port}", "bob")
        with caplog.at_level(logging.INFO, logger="chatsvc.access"):
            await bob.send(SESSION, "hello")
        await bob.close()
    [record] = [record for record in caplog.records if record.name == "chatsvc.access"]
    assert re.fullmatch(rf"SendMessage OK [\d.]+ ms session={SESSION} user=bob", record.getMessage())
