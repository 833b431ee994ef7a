"""A broker URL listing several nodes, against the real RabbitMQ with a dead node listed first.

A 3-node cluster cannot run on the test machine; a node that does not answer (nothing
listens on port 1) in front of the live broker is what a client sees when one node of
the cluster is down.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner

from hub.bus.amqp_codec import node_parameters
from hub.bus.declare import ConnectRetry, declare_topology
from hub.bus.factory import open_broker
from hub.bus.management import ManagementClient
from hub.bus.topology import OUT_EXCHANGE, default_topology
from hub.bus.types import ConnectionLost, Outgoing
from hub.topology_cli import topology_command
from tests.integration.hubenv import HubEnv, envelope, rabbit_env
from tests.support.databases import sqlite_url

pytestmark = pytest.mark.integration


def with_dead_node_first(url: str) -> str:
    """``url`` behind a node of the same user and vhost that does not answer."""
    parts = urlsplit(url)
    dead = parts._replace(netloc=f"{parts.username}:{parts.password}@127.0.0.1:1").geturl()
    return f"{dead},{url}"


@pytest.fixture
def vhost(rabbit_management: ManagementClient, scratch_name: Callable[[str], str]) -> Iterator[str]:
    name = scratch_name("nodes")
    yield name
    rabbit_management.delete_vhost(name)


def test_topology_is_declared_through_the_node_that_answers(
    vhost: str, rabbit_url: Callable[..., str], rabbit_management: ManagementClient
) -> None:
    lines: list[str] = []
    declare_topology(
        default_topology(vhost),
        node_parameters(with_dead_node_first(rabbit_url(vhost))),
        rabbit_management,
        lines.append,
        retry=ConnectRetry(max_retries=0, connect_timeout=2.0),
    )
    assert {q["name"] for q in rabbit_management.queues(vhost)} >= {"sihub.hub.in", "sihub.dept.hrss"}
    assert not any("retrying" in line for line in lines), lines  # the live node answered at once


def test_messages_flow_through_the_node_that_answers(
    vhost: str, rabbit_url: Callable[..., str], rabbit_management: ManagementClient
) -> None:
    declare_topology(default_topology(vhost), node_parameters(rabbit_url(vhost)), rabbit_management)
    broker = open_broker(with_dead_node_first(rabbit_url(vhost)))
    try:
        consumer = broker.consumer("sihub.dept.hrss")
        publisher = broker.publisher()
        publisher.publish([Outgoing(OUT_EXCHANGE, "hrss.case.routed", b'{"n": 1}', message_id="m-1")])
        deliveries = []
        deadline = time.monotonic() + 10
        while not deliveries and time.monotonic() < deadline:
            deliveries = consumer.fetch(10, 0.2)
        assert [(d.message_id, d.body) for d in deliveries] == [("m-1", b'{"n": 1}')]
        consumer.ack([d.delivery_tag for d in deliveries])
        assert broker.queue_depth("sihub.dept.hrss") == 0
    finally:
        broker.close()


def test_when_no_node_answers_each_is_named() -> None:
    url = "amqp://guest:guest@127.0.0.1:1/sihub,amqp://guest:guest@127.0.0.1:2/sihub"
    broker = open_broker(url)
    with pytest.raises(ConnectionLost, match=r"no node of the broker answered.*127\.0\.0\.1:1.*127\.0\.0\.1:2"):
        broker.publisher()
    broker.close()


def test_sihub_topology_takes_a_node_list(vhost: str, rabbit_url: Callable[..., str]) -> None:
    result = CliRunner().invoke(
        topology_command, ["--broker-url", with_dead_node_first(rabbit_url(vhost))]
    )
    assert result.exit_code == 0, result.output
    assert f"topology of vhost {vhost}: declared" in result.output


def test_the_hub_runs_over_a_node_list(
    rabbit_management: ManagementClient, rabbit_url: Callable[..., str], tmp_path: Path
) -> None:
    def listed(vhost: str, user: str | None = None, password: str | None = None) -> str:
        return with_dead_node_first(rabbit_url(vhost, user, password))

    vhost = f"sihub-test-nodes-hub-{uuid.uuid4().hex[:8]}"
    env: HubEnv
    with rabbit_env(rabbit_management, vhost, listed, sqlite_url(tmp_path)) as env:
        env.send_envelope(envelope("case.registered"))
        env.wait_idle()
        routed = [json.loads(d.body)["type"] for d in env.drain("hrss")]
    assert routed == ["case.routed"]


def test_declaring_retries_the_round_of_nodes_then_names_each(
    vhost: str, rabbit_management: ManagementClient
) -> None:
    dead = node_parameters(f"amqp://guest:guest@127.0.0.1:1/{vhost},amqp://guest:guest@127.0.0.1:2/{vhost}")
    lines: list[str] = []
    with pytest.raises(ConnectionLost, match=r"127\.0\.0\.1:1.*127\.0\.0\.1:2"):
        declare_topology(
            default_topology(vhost), dead, rabbit_management, lines.append,
            retry=ConnectRetry(max_retries=1, interval_start=0.1, connect_timeout=1.0),
        )  # fmt: skip
    assert len([line for line in lines if "retrying in 0.1 s" in line]) == 1, lines
