"""A real Prometheus (Debian's package, installed by the set-up when missing) scrapes a running
`chatsvc serve --metrics-listen` every second during a small workload; the values are read back
through Prometheus' query API. The checked-in alert rules and Grafana dashboard are evaluated by
the same Prometheus against the same server.
"""

from __future__ import annotations

import json
import re
import subprocess
import urllib.request
from pathlib import Path

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sessionchat.v1 import chat_pb2 as pb

from tests.helpers import SECRET, Client, ServerProcess, refused, server_env
from tests.support.prometheus import Prometheus, eventually, prometheus_binary
from tests.support.streams import SESSION, opened, subscribed
from tests.test_browser import say

OPS = Path(__file__).resolve().parent.parent / "ops"
ALERTS = OPS / "alerts.yml"
DASHBOARD = OPS / "grafana-dashboard.json"
METRICS_LINE = re.compile(r"^SessionChat metrics on http://([^/\s]+)/metrics", re.MULTILINE)

# Installing Prometheus on a fresh machine takes longer than a test.
pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def prometheus_path(pytestconfig) -> str:
    return prometheus_binary(lambda line: say(pytestconfig, line))


@pytest.fixture(scope="module")
async def chat(tmp_path_factory):
    """`chatsvc serve` with its metrics on a free port; (the server, its metrics host:port)."""
    directory = tmp_path_factory.mktemp("metrics")
    env = server_env(CHATSVC_JWT_SECRET=SECRET, CHATSVC_DATABASE_URL=f"sqlite:///{directory / 'chat.db'}")
    server = await ServerProcess.start(directory, env, "--metrics-listen", "127.0.0.1:0")
    found = METRICS_LINE.search("".join(server.output))
    assert found, "".join(server.output)
    yield server, found.group(1)
    assert await server.stop() == 0


@pytest.fixture(scope="module")
async def prometheus(prometheus_path, chat):
    _, metrics = chat
    prometheus = await Prometheus.start(prometheus_path, metrics, rule_files=[ALERTS])
    yield prometheus
    await prometheus.stop()


@pytest.fixture(scope="module")
async def workload(chat, prometheus):
    """Two participants join (a StreamEvents and a Subscribe), bob sends 7 messages on his stream
    (the rate limit, 5 in 10 s, refuses 2), the instructor sends 2 and lists them, bob's over-long
    message is refused; the streams stay open. Yields the clients and bob's stream."""
    server, _ = chat
    alice = Client(server.target, "alice", "instructor")
    bob, carol = Client(server.target, "bob"), Client(server.target, "carol")
    [bob_stream] = await opened(bob)
    [carol_stream] = await subscribed(carol)
    answers = [await bob_stream.reply_to(bob_stream.act(send_message=pb.SendMessageAction(text=f"hello {n}"))) for n in range(7)]
    assert [answer.WhichOneof("kind") for answer in answers] == ["action_accepted"] * 5 + ["error"] * 2
    for n in range(2):
        await alice.send(SESSION, f"welcome {n}")
    await alice.call("ListMessages", pb.ListMessagesRequest(session_id=SESSION))
    await refused(grpc.StatusCode.INVALID_ARGUMENT, bob.send(SESSION, "x" * 5000))
    yield bob_stream
    carol_stream.cancel()
    for client in (alice, bob, carol):
        await client.close()


async def test_prometheus_reads_calls_refusals_streams_events_joins_and_database_time_from_a_running_server(prometheus, workload):
    expected = {
        'up{job="chatsvc"}': 1,
        'chatsvc_rpc_requests_total{method="SendMessage",code="OK"}': 2,
        'chatsvc_rpc_requests_total{method="SendMessage",code="INVALID_ARGUMENT"}': 1,
        'chatsvc_rpc_requests_total{method="ListMessages",code="OK"}': 1,
        'chatsvc_rpc_duration_seconds_count{method="SendMessage",code="OK"}': 2,
        'chatsvc_stream_actions_total{action="join",code="OK"}': 1,
        'chatsvc_stream_actions_total{action="send_message",code="OK"}': 5,
        'chatsvc_stream_actions_total{action="send_message",code="RESOURCE_EXHAUSTED"}': 2,
        'chatsvc_refusals_total{action="send_message",reason="rate_limit"}': 2,
        "chatsvc_live_streams": 2,
        "chatsvc_live_sessions": 1,
        "chatsvc_join_duration_seconds_count": 2,
        # bob's and carol's joins, bob's 5 messages, alice's 2.
        "chatsvc_events_published_total": 9,
        # bob's join reached bob; carol's reached both; each message reached both.
        "chatsvc_events_delivered_total": 1 + 2 + 7 * 2,
    }
    for expression, value in expected.items():
        await prometheus.until(expression, lambda seen, value=value: seen == value, "after the workload")
    assert await prometheus.value('chatsvc_database_transaction_duration_seconds_count{kind="transaction"}') >= 9
    assert await prometheus.value('chatsvc_rpc_duration_seconds_bucket{method="SendMessage",code="OK",le="+Inf"}') == 2
    assert 0 < await prometheus.value('chatsvc_rpc_duration_seconds_sum{method="SendMessage",code="OK"}') < 10

    workload.cancel()  # bob leaves: his stream ends
    await prometheus.until('chatsvc_streams_ended_total{reason="client_closed"}', lambda seen: seen == 1, "once bob's stream ended")
    await prometheus.until("chatsvc_live_streams", lambda seen: seen == 1, "once bob's stream ended")


async def test_no_series_names_a_user_or_a_session(prometheus, workload):
    await prometheus.until('chatsvc_rpc_requests_total{method="SendMessage",code="OK"}', lambda seen: seen == 2, "after the workload")
    series = await prometheus.query('{__name__=~"chatsvc_.+"}')
    assert series
    values = {value for one in series for name, value in one["metric"].items() if name not in ("__name__", "instance", "job")}
    assert values & {"alice", "bob", "carol", SESSION} == set()


async def test_the_suggested_alerts_load_into_prometheus_and_evaluate(prometheus, prometheus_path, workload):
    names = {rule["name"] for group in (await prometheus.api("rules"))["groups"] for rule in group["rules"]}
    assert {"SessionChatSubscribersFallingBehind", "SessionChatSendsRefusedForOverload", "SessionChatRedisDown"} <= names

    async def health() -> set[str]:
        return {rule["health"] for group in (await prometheus.api("rules"))["groups"] for rule in group["rules"]}

    await eventually(health, lambda seen: seen == {"ok"}, "every rule evaluated without error")
    firing = [alert["labels"]["alertname"] for alert in (await prometheus.api("alerts"))["alerts"]]
    assert firing == [], "a healthy server under a small workload fires no alert"
    promtool = Path(prometheus_path).with_name("promtool")
    for command in ([str(promtool), "check", "rules", str(ALERTS)], [str(promtool), "check", "config", str(OPS / "prometheus.yml")]):
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr


def exported_names(metrics: str) -> set[str]:
    """Every sample name the server's /metrics serves (with _bucket, _count, _sum)."""
    with urllib.request.urlopen(f"http://{metrics}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {sample.name for family in text_string_to_metric_families(text) for sample in family.samples}


# What a PromQL expression names besides metrics: functions, aggregations' keywords, label names and values.
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACES = re.compile(r"\{[^}]*\}")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_RANGES = re.compile(r"\[[^\]]*\]")
_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without"}


def metric_names(expression: str) -> set[str]:
    """The metric names a PromQL expression reads (identifiers that are not functions, keywords or labels)."""
    text = _RANGES.sub("", _GROUPING.sub("", _BRACES.sub("", _STRINGS.sub("", expression))))
    names = set()
    for found in _NAME.finditer(text):
        following = text[found.end():].lstrip()
        if following.startswith("(") or found.group() in _KEYWORDS:
            continue
        names.add(found.group())
    return names


def test_metric_names_are_found_in_promql():
    expression = 'histogram_quantile(0.99, sum by (kind, le) (rate(a_seconds_bucket{job="$job",kind="x"}[5m]))) > 0 or b_total'
    assert metric_names(expression) == {"a_seconds_bucket", "b_total"}


async def test_every_query_of_the_grafana_dashboard_reads_exported_metrics_and_runs_in_prometheus(chat, prometheus, workload):
    _, metrics = chat
    exported = exported_names(metrics)
    dashboard = json.loads(DASHBOARD.read_text())
    targets = [(panel["title"], target["expr"]) for panel in dashboard["panels"] for target in panel["targets"]]
    assert len(targets) >= 10
    unknown = {(title, name) for title, expression in targets for name in metric_names(expression) if name not in exported}
    assert unknown == set(), "dashboard queries name metrics the server does not export"
    assert all(metric_names(expression) for _, expression in targets)
    await prometheus.until("chatsvc_live_sessions", lambda seen: seen is not None, "the first scrape")
    answered = 0
    for title, expression in targets:
        query = expression.replace("$__rate_interval", "1m").replace("$job", "chatsvc")
        result = await prometheus.query(query)  # an AssertionError with Prometheus' reason if it refuses the query
        answered += bool(result)
        assert title
    assert answered >= len(targets) // 2, "most panels show data after a workload"
