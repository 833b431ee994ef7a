"""Several broker nodes in one URL: parsed, checked, and tried in turn."""

from __future__ import annotations

import pika
import pytest
from pydantic import ValidationError

from adapters.settings import AdapterSettings
from hub.bus.nodes import Nodes, first_node, node_urls
from hub.bus.types import AccessRefused, ConnectionLost
from hub.config import Settings

ONE = "amqp://hub:s%2Cecret@rabbit-1:5672/sihub"
TWO = "amqps://hub:s%2Cecret@rabbit-2:5671/sihub"


def test_a_plain_url_is_one_node() -> None:
    assert node_urls(ONE) == [ONE]
    assert node_urls("memory://tax@") == ["memory://tax@"]


def test_nodes_are_separated_by_commas_that_start_another_url() -> None:
    assert node_urls(f"{ONE}, {TWO}") == [ONE, TWO]
    assert first_node(f"{ONE},{TWO}") == ONE


def test_a_comma_in_a_password_does_not_split_the_url() -> None:
    url = "amqp://hub:a,b@rabbit-1:5672/sihub"
    assert node_urls(url) == [url]


@pytest.mark.parametrize(
    "other",
    [
        "amqp://tax:s%2Cecret@rabbit-2:5672/sihub",  # another user
        "amqp://hub:other@rabbit-2:5672/sihub",  # another password
        "amqp://hub:s%2Cecret@rabbit-2:5672/elsewhere",  # another vhost
    ],
)
def test_nodes_of_one_cluster_must_share_user_password_and_vhost(other: str) -> None:
    with pytest.raises(ValueError, match="share them") as refused:
        node_urls(f"{ONE},{other}")
    assert "s%2Cecret" not in str(refused.value) and "other@" not in str(refused.value)  # no password


def parameters(*hosts: str) -> Nodes:
    return Nodes([pika.ConnectionParameters(host=h) for h in hosts])


def test_the_first_node_that_answers_is_used_and_remembered() -> None:
    nodes = parameters("a", "b", "c")
    tried: list[str] = []

    def opener(p: pika.ConnectionParameters) -> str:
        tried.append(p.host)
        if p.host == "a":
            raise ConnectionLost("refused")
        return p.host

    assert nodes.open(opener) == "b"
    assert tried == ["a", "b"]
    tried.clear()
    # The next connection (also through a renamed copy) starts with b.
    assert nodes.renamed(lambda p: p).open(opener) == "b"
    assert tried == ["b"]


def test_when_no_node_answers_the_error_names_each() -> None:
    nodes = parameters("a", "b")

    def opener(p: pika.ConnectionParameters) -> str:
        raise ConnectionLost(f"{p.host} is down")

    with pytest.raises(ConnectionLost, match=r"a:5672: a is down; b:5672: b is down"):
        nodes.open(opener)


def test_one_node_keeps_its_own_error() -> None:
    def opener(p: pika.ConnectionParameters) -> str:
        raise ConnectionLost("connection refused")

    with pytest.raises(ConnectionLost, match="^connection refused$"):
        parameters("a").open(opener)


def test_a_refused_login_is_not_tried_elsewhere() -> None:
    tried: list[str] = []

    def opener(p: pika.ConnectionParameters) -> str:
        tried.append(p.host)
        raise AccessRefused("403 ACCESS_REFUSED")

    with pytest.raises(AccessRefused):
        parameters("a", "b").open(opener)
    assert tried == ["a"]


def test_a_lost_connection_moves_the_turn_past_its_node_once() -> None:
    nodes = parameters("a", "b", "c")
    consumer, publisher = nodes.renamed(lambda p: p), nodes.renamed(lambda p: p)
    assert consumer.open(lambda p: p.host) == "a"
    assert publisher.open(lambda p: p.host) == "a"

    consumer.lost()  # node a died under both connections
    publisher.lost()  # the consumer moved the turn already: not past b as well

    assert [p.host for _, p in nodes.in_turn()] == ["b", "c", "a"]
    consumer.lost()  # twice for one connection changes nothing
    assert [p.host for _, p in nodes.in_turn()] == ["b", "c", "a"]


@pytest.mark.parametrize("settings", [Settings, AdapterSettings])
def test_settings_refuse_nodes_of_two_users_without_echoing_a_password(settings: type) -> None:
    with pytest.raises(ValidationError) as refused:
        settings(broker_url="amqp://hub:pw-one@a:5672/sihub,amqp://tax:pw-two@b:5672/sihub")
    text = str(refused.value)
    assert "broker_url" in text and "share them" in text
    assert "pw-one" not in text and "pw-two" not in text


@pytest.mark.parametrize("settings", [Settings, AdapterSettings])
def test_settings_take_a_node_list(settings: type) -> None:
    url = f"{ONE},{ONE.replace('rabbit-1', 'rabbit-2')}"
    assert settings(broker_url=url).broker_url == url
