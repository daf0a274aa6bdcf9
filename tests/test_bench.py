"""`chatsvc bench` as CI runs it: once, small, to prove it works.

No timing assertions: this machine is shared and noisy. The benchmark itself
checks every subscriber's sequence numbers; here we check that it says
nothing was lost or duplicated and that its numbers hang together.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tomllib
from pathlib import Path

from chatsvc.bench.baseline import BASELINE_MODULES, baseline_missing
from chatsvc.bench.report import format_table
from tests.helpers import CHATSVC, ServerProcess, server_env

ROOT = Path(__file__).resolve().parent.parent
SMALL = ["--subscribers", "20", "--rate", "20", "--duration", "2", "--probes", "2", "--workers", "2"]


def bench(*args: str, **env: str) -> dict:
    # After the run the bench waits out the subscribers' presence grace to measure memory once they left.
    env.setdefault("CHATSVC_PRESENCE_GRACE_SECONDS", "0.3")
    result = subprocess.run(
        CHATSVC + ["bench", *SMALL, *args, "--json"], env=server_env(**env), capture_output=True, text=True, timeout=90
    )
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    # uvloop starts the servers with fork(): gRPC's fork handlers used to print a notice on every run.
    assert "fork_posix" not in result.stderr, result.stderr[-3000:]
    return json.loads(result.stdout)


def assert_sane(run: dict, subscribers: int = 20) -> None:
    assert run["errors"] == []
    assert run["subscribers"] == subscribers
    assert run["lost"] == 0
    assert run["duplicated"] == 0
    assert run["sequence_gaps"] == 0
    assert run["streams_ended"] == 0
    assert run["same_events_everywhere"] is True
    assert run["published"] == 40  # 20 msg/s for 2 s, open loop
    assert run["delivered"] == run["published"] * subscribers
    assert run["delivered_per_s"] > 0
    latency = run["latency_ms"]
    assert 0 <= latency["p50"] <= latency["p99"] <= latency["max"]
    assert run["server_rss_idle_kb"] > 0
    assert run["memory_per_idle_subscriber_kb"] is not None


def test_small_run_against_a_started_server_and_the_websockets_baseline():
    results = bench("--baseline")
    assert results["ok"] is True
    service, baseline = results["service"], results["baseline"]
    assert_sane(service)
    assert_sane(baseline)
    # The ChatClient probes are real clients: they saw every message too.
    assert service["probe_latency_ms"]["max"] <= service["latency_ms"]["max"]
    assert service["probe_reconnects"] == 0
    assert service["event_bytes"] > 100
    assert results["ratio"] > 0
    table = format_table(results)
    for row in ("delivered events/s", "latency p50 / p99 / max (ms)", "lost events", "duplicated events", "server KB per idle subscriber"):
        assert row in table
    assert "OK: nothing lost, nothing duplicated" in table


def test_two_processes_on_redis_deliver_the_same_events_to_every_subscriber(redis_server, postgres_url):
    results = bench("--processes", "2", "--redis-url", redis_server.url, "--database-url", postgres_url)
    assert results["ok"] is True
    service = results["service"]
    assert len(service["targets"]) == 2
    assert_sane(service)
    # One session, subscribers on both processes: each receives the session's events from Redis
    # (its own too) and delivers them to its own subscribers.
    processes = service["processes_fanout"]
    assert len(processes) == 2 and all(p["sessions_followed"] == 1 for p in processes)
    assert all(p["received"] >= 40 for p in processes)  # at least the 40 messages
    assert sum(p["delivered"] for p in processes) >= 40 * 20
    # The load on Redis and PostgreSQL while publishing: each message was published to Redis
    # and written to PostgreSQL at least once (other users of a shared server only add to it).
    [node] = service["redis"]
    assert node["commands_per_s"] >= service["publish_rate"] and node["cpu_percent"] >= 0
    assert service["postgres"]["commits_per_s"] > 0 and service["postgres"]["rows_per_s"] >= service["publish_rate"]
    assert len(service["processes_cpu_percent"]) == 2 and all(cpu > 0 for cpu in service["processes_cpu_percent"])
    table = format_table(results)
    assert "Redis commands/s, CPU % (per node)" in table and "PostgreSQL commits/s, rows written/s" in table


def test_sessions_placed_on_processes_are_received_only_where_they_are_followed(redis_server):
    results = bench("--processes", "2", "--redis-url", redis_server.url, "--sessions", "2", "--placement", "session")
    service = results["service"]
    assert results["ok"] is True and service["lost"] == service["duplicated"] == 0
    # Session j's users are all on process j: each process follows one session and receives its events only.
    processes = service["processes_fanout"]
    assert [p["sessions_followed"] for p in processes] == [1, 1]
    everything = sum(p["published"] for p in processes)
    assert all(40 <= p["received"] <= 0.75 * everything for p in processes), (everything, processes)


def test_streams_sharing_connections_get_everything_and_memory_is_measured_once_everyone_left():
    results = bench("--streams-per-connection", "5")
    service = results["service"]
    assert results["ok"] is True, service["errors"]
    assert_sane(service)
    # 18 cheap subscribers (2 are probes) in 2 processes: 9 each, on 2 connections each (5 + 4 streams).
    assert service["connections_opened"] == 4
    assert service["server_rss_left_kb"] > 0
    assert service["rss_left_vs_before_percent"] == round(
        100 * (service["server_rss_left_kb"] - service["server_rss_before_kb"]) / service["server_rss_before_kb"], 1
    )
    assert "5 streams per connection" in format_table(results)
    assert "once everyone left (MB, vs before)" in format_table(results)


def test_join_storm_figures_and_the_online_list_hang_together():
    service = bench()["service"]
    join = service["join_ms"]
    assert 0 <= join["p50"] <= join["p99"] <= join["max"] <= service["join_s"] * 1000 + 10  # join_s is rounded to 10 ms
    # 20 subscribers and the 16 publishers' streams: a probe ends seeing them all online.
    assert service["online_seen"] == service["online_expected"] == 20 + 16


def test_reconnect_storm_every_subscriber_resumes_without_a_gap():
    results = bench("--restart", CHATSVC_PRESENCE_GRACE_SECONDS="3")  # the default: the restart carries it over
    service = results["service"]
    assert results["ok"] is True, service["errors"]
    assert_sane(service)
    cheap = 20 - 2  # the probes reconnect on their own (ChatClient)
    assert service["resumed"] == service["recovered"] == cheap
    assert service["restart_s"] > 0 and service["resume_s"] is not None


def test_many_sessions_with_visitors_churning_lose_nothing():
    # A short presence grace: the visitors' leaves are announced (and awaited) soon after they go.
    results = bench("--sessions", "3", "--subscribers", "6", "--rate", "5", "--churn", "3", CHATSVC_PRESENCE_GRACE_SECONDS="0.3")
    service = results["service"]
    assert results["ok"] is True, service["errors"]
    assert service["subscribers"] == 18
    assert service["published"] == 3 * 5 * 2  # 5 msg/s in each of 3 sessions for 2 s
    assert service["delivered"] == service["published"] * 6, "each message reaches the 6 subscribers of its session"
    assert service["lost"] == service["duplicated"] == service["sequence_gaps"] == 0
    assert service["same_events_everywhere"] is True
    assert service["churn_joins"] == 6  # 3 visitors/s for 2 s, each joined and left
    assert service["online_seen"] == service["online_expected"], "the visitors are gone from the online list"


def test_baseline_without_the_bench_extra_stops_before_anything_starts_and_says_how_to_install_it():
    """As after the README's first install, where websockets (the bench extra) is missing."""
    without_websockets = (
        "import sys; sys.modules['websockets'] = None; "  # `import websockets` now fails as if not installed
        "from chatsvc.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", without_websockets, "bench", *SMALL, "--baseline"],
        env=server_env(), capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr == "chatsvc bench --baseline needs the bench extra: .venv/bin/pip install -e '.[bench]'\n"
    assert result.stdout == ""


def test_the_bench_extra_installs_what_the_baseline_imports():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for module in BASELINE_MODULES:
        assert any(requirement.startswith(module) for requirement in extras["bench"]), module
        assert any(requirement.startswith(module) for requirement in extras["test"]), module
    assert baseline_missing() is None  # installed here, with the test extra


def test_bench_votes_counts_a_small_storm_exactly_with_few_tally_events():
    result = subprocess.run(
        CHATSVC + ["bench-votes", "--voters", "60", "--within", "1", "--connections", "3", "--json"],
        env=server_env(), capture_output=True, text=True, timeout=90,
    )
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    run = json.loads(result.stdout)
    assert run["accepted"] == 60 and run["refused"] == {}
    assert run["final_tally"] == run["expected_tally"] == {"voters": 60, "options": [15, 15, 15, 15]} and run["exact"]
    # Coalesced: a few tally events, never one per vote.
    assert 1 <= run["tally_events"] < 60 // 4
    assert 0 < run["ack_ms"]["p50"] <= run["ack_ms"]["p99"] <= run["ack_ms"]["max"]


def test_bench_votes_refuses_nonsense_options_before_starting_anything():
    result = subprocess.run(CHATSVC + ["bench-votes", "--options", "11"], env=server_env(), capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "--options must be 2-10" in result.stderr


def test_bench_search_answers_each_query_shape_over_a_filled_session():
    result = subprocess.run(
        CHATSVC + ["bench-search", "--messages", "400", "--queries", "2", "--json"],
        env=server_env(), capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    run = json.loads(result.stdout)
    assert run["messages"] == 400 and run["database"] == "sqlite"
    shapes = run["shapes"]
    assert list(shapes) == ["common word", "rare word", "phrase", "prefix", "common word, by relevance"]
    assert shapes["common word"]["hits_on_page"] == 20 and shapes["prefix"]["hits_on_page"] == 20
    for shape in shapes.values():
        assert 0 < shape["p50_ms"] <= shape["p99_ms"] <= shape["max_ms"]


def test_bench_reads_stores_every_mark_with_few_count_updates():
    result = subprocess.run(
        CHATSVC + ["bench-reads", "--users", "30", "--rate", "4", "--duration", "1", "--connections", "2", "--json"],
        env=server_env(), capture_output=True, text=True, timeout=90,
    )
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    run = json.loads(result.stdout)
    assert run["accepted"] == 120 and run["refused"] == {} and run["final_marks_exact"]
    assert run["count_updates"] < 120 // 4  # coalesced: a few per second, never one per mark
    assert 0 < run["ack_ms"]["p50"] <= run["ack_ms"]["p99"]


def test_bench_chain_times_event_transactions_with_and_without_the_hash_chain_and_leaves_an_intact_chain():
    result = subprocess.run(
        CHATSVC + ["bench-chain", "--transactions", "10", "--batches", "1,5", "--json"],
        env=server_env(), capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    run = json.loads(result.stdout)
    assert run["database"] == "sqlite" and run["chain_intact"] is True
    assert [row["events"] for row in run["rows"]] == [1, 5]
    for row in run["rows"]:
        for times in (row["without_ms"], row["with_ms"], row["chain_ms"]):
            assert 0 < times["p50"] <= times["p99"]


async def test_a_running_server_is_measured_with_target_and_its_memory_only_with_its_pid(tmp_path):
    """`--target` measures a server someone else started (publishers are instructors there); without
    `--server-pid` there is no memory to read, and the run says so instead of waiting for it."""
    secret = "a-running-servers-secret-0123456789abcdef"
    server = await ServerProcess.start(tmp_path, server_env(CHATSVC_JWT_SECRET=secret, CHATSVC_PRESENCE_GRACE_SECONDS="0.3"))
    try:
        for with_pid in (False, True):
            pid = ["--server-pid", str(server.process.pid)] if with_pid else []
            command = [*CHATSVC, "bench", *SMALL, "--target", server.target, "--secret", secret, *pid, "--json"]
            result = await asyncio.to_thread(
                subprocess.run, command, env=server_env(CHATSVC_PRESENCE_GRACE_SECONDS="0.3"), capture_output=True, text=True, timeout=90
            )
            assert result.returncode == 0, result.stderr[-3000:]
            results = json.loads(result.stdout)
            service = results["service"]
            assert results["config"]["publisher_role"] == "instructor"
            if with_pid:
                assert_sane(service)
            assert service["lost"] == service["duplicated"] == 0 and service["errors"] == []
            if with_pid:
                assert service["server_rss_left_kb"] > 0
            else:
                assert service["memory_per_idle_subscriber_kb"] is None and "server_rss_left_kb" not in service
    finally:
        await server.stop()
