"""The metrics themselves: Prometheus naming, bounded labels, the endpoint's life, and what real
faults (a Redis outage) show. Prometheus scraping a running server: tests/test_prometheus.py."""

from __future__ import annotations

import asyncio
import urllib.request

import pytest
from prometheus_client import REGISTRY

from tests.helpers import Client, running
from tests.support.prometheus import eventually
from tests.support.streams import SESSION

# Every label a chatsvc metric may have: each takes a few fixed values.
BOUNDED_LABELS = {"method", "code", "action", "reason", "kind", "component", "severity", "le"}


def chatsvc_families():
    return [family for family in REGISTRY.collect() if family.name.startswith("chatsvc_")]


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_every_metric_is_named_with_its_unit_and_labelled_only_by_fixed_sets():
    families = chatsvc_families()
    assert len(families) >= 15
    for family in families:
        if family.type == "counter":
            assert all(s.name.endswith("_total") for s in family.samples), family.name
        if family.type == "histogram":
            assert family.name.endswith(("_seconds", "_events")), family.name
        labels = {name for s in family.samples for name in s.labels}
        assert labels <= BOUNDED_LABELS, (family.name, labels - BOUNDED_LABELS)
        assert not any("user" in name or "session" in name for name in labels), family.name


async def test_the_endpoint_serves_the_metrics_while_the_server_runs_and_closes_with_it(settings):
    settings.metrics_listen = "127.0.0.1:0"
    async with running(settings) as server:
        url = server.metrics.url
        assert url.startswith("http://127.0.0.1:") and url.endswith("/metrics")
        text = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=10).read().decode())
        assert "# TYPE chatsvc_rpc_requests_total counter" in text
        assert "chatsvc_live_streams " in text
        assert "_created" not in text  # no second series per counter
    with pytest.raises(OSError):
        await asyncio.to_thread(urllib.request.urlopen, url, timeout=5)


async def test_no_endpoint_unless_asked(server):
    assert server.metrics is None


async def test_a_redis_outage_is_counted_once_per_component_and_failing_while_it_lasts(settings, restartable_redis):
    settings.redis_url = restartable_redis.url
    components = ("rate_limit", "fanout_publish")
    outages = {c: sample("chatsvc_redis_outages_total", component=c) for c in components}
    failing = {c: sample("chatsvc_redis_failing", component=c) for c in components}
    async with running(settings) as server:
        bob = Client(f"127.0.0.1:{server.port}", "bob")
        try:
            await bob.send(SESSION, "before")
            restartable_redis.stop()
            for n in range(3):  # chat goes on: limits off, events from the database
                await bob.send(SESSION, f"during {n}")
            for component in components:
                assert sample("chatsvc_redis_outages_total", component=component) == outages[component] + 1, component
                assert sample("chatsvc_redis_failing", component=component) == failing[component] + 1, component
            restartable_redis.start()

            async def failing_now() -> float:
                await bob.send(SESSION, "after")
                return sample("chatsvc_redis_failing", component="rate_limit")

            await eventually(failing_now, lambda value: value == failing["rate_limit"], "Redis answers again")
            assert sample("chatsvc_redis_outages_total", component="rate_limit") == outages["rate_limit"] + 1
        finally:
            await bob.close()
