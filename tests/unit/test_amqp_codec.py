"""The pika glue without a broker: properties, deliveries, URLs, culprits of a channel close."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from hub.bus.amqp import AmqpBroker
from hub.bus.amqp_codec import (
    TIMESTAMP_HEADER,
    connection_parameters,
    names_message,
    to_delivery,
    to_properties,
    url_vhost,
)
from hub.bus.amqp_consumer import oldest_run
from hub.bus.factory import open_broker
from hub.bus.management import ManagementClient
from hub.bus.types import Outgoing


def test_properties_are_persistent_and_carry_milliseconds_in_a_header() -> None:
    message = Outgoing(
        "sihub.in", "tax.x", b"{}", headers={"a": 1}, message_id="m", user_id="tax",
        correlation_id="c", timestamp_ms=1_767_225_600_999,
    )  # fmt: skip
    properties = to_properties(message)

    assert properties.delivery_mode == 2
    assert properties.timestamp == 1_767_225_600
    assert properties.headers == {"a": 1, TIMESTAMP_HEADER: 1_767_225_600_999}
    assert (properties.message_id, properties.user_id, properties.correlation_id) == (
        "m",
        "tax",
        "c",
    )
    assert properties.content_type == "application/json"


def test_delivery_folds_the_millisecond_header_back_and_reads_the_delivery_count() -> None:
    method = SimpleNamespace(exchange="sihub.out", routing_key="tax.x", redelivered=True)
    properties = to_properties(Outgoing("sihub.out", "tax.x", b"", timestamp_ms=1_500))
    properties.headers["x-delivery-count"] = 4

    delivery = to_delivery(method, properties, b"body", delivery_tag=9)

    assert delivery.timestamp_ms == 1_500
    assert TIMESTAMP_HEADER not in delivery.headers
    assert (delivery.delivery_count, delivery.redelivered, delivery.delivery_tag) == (4, True, 9)


def test_delivery_without_the_header_uses_the_seconds_timestamp() -> None:
    method = SimpleNamespace(exchange="", routing_key="q", redelivered=False)
    properties = SimpleNamespace(
        headers=None,
        timestamp=12,
        message_id=None,
        user_id=None,
        correlation_id=None,
        content_type=None,
    )

    delivery = to_delivery(method, properties, b"", delivery_tag=1)
    assert (delivery.timestamp_ms, delivery.delivery_count, dict(delivery.headers)) == (
        12_000,
        0,
        {},
    )


@pytest.mark.parametrize(
    ("reply_text", "exchange", "routing_key", "user_id", "named"),
    [
        ("ACCESS_REFUSED - access to topic 'hrss.x' in exchange 'sihub.in' in vhost 'v' refused for user 'tax'",
         "sihub.in", "hrss.x", None, True),
        ("ACCESS_REFUSED - access to topic 'hrss.x' in exchange 'sihub.in' in vhost 'v' refused for user 'tax'",
         "sihub.in", "tax.x", None, False),
        ("ACCESS_REFUSED - write access to exchange 'sihub.out' in vhost 'v' refused for user 'tax'",
         "sihub.out", "hrss.x", None, True),
        ("ACCESS_REFUSED - write access to exchange 'sihub.out' in vhost 'v' refused for user 'tax'",
         "sihub.in", "tax.x", None, False),
        ("PRECONDITION_FAILED - user_id property set to 'hrss' but authenticated user was 'tax'",
         "sihub.in", "tax.x", "hrss", True),
        ("PRECONDITION_FAILED - user_id property set to 'hrss' but authenticated user was 'tax'",
         "sihub.in", "tax.x", "tax", False),
        ("NOT_FOUND - no exchange 'sihub.gone' in vhost 'v'", "sihub.gone", "x", None, True),
        ("NOT_FOUND - no exchange 'sihub.gone' in vhost 'v'", "sihub.in", "x", None, False),
    ],
)  # fmt: skip
def test_channel_close_reply_names_the_message_that_caused_it(
    reply_text: str, exchange: str, routing_key: str, user_id: str | None, named: bool
) -> None:
    message = Outgoing(exchange, routing_key, b"", user_id=user_id)
    assert names_message(reply_text, message) is named


@pytest.mark.parametrize(
    ("outstanding", "tags", "run"),
    [
        ([1, 2, 3, 4], {1, 2, 3}, [1, 2, 3]),
        ([1, 2, 3, 4], {2, 3}, []),
        ([5, 6, 9], {5, 9}, [5]),
        ([5, 6, 9], {5, 6, 9}, [5, 6, 9]),
        ([], set(), []),
    ],
)
def test_oldest_run_is_what_one_multiple_ack_may_cover(
    outstanding: list[int], tags: set[int], run: list[int]
) -> None:
    assert oldest_run(outstanding, tags) == run


def test_amqp_url_gives_vhost_and_credentials_with_overrides() -> None:
    url = "amqp://guest:guest@rabbit:5673/sihub%2Dtest"
    parameters = connection_parameters(url, user="tax", password="tax-dev")

    assert (parameters.host, parameters.port, parameters.virtual_host) == (
        "rabbit",
        5673,
        "sihub-test",
    )
    assert (parameters.credentials.username, parameters.credentials.password) == ("tax", "tax-dev")
    assert url_vhost(url) == "sihub-test"
    assert url_vhost("amqp://h:5672/%2F") == "/"
    assert url_vhost("amqp://h:5672") is None


def test_open_broker_with_an_amqp_url_does_not_connect_until_asked() -> None:
    broker = open_broker(
        "amqp://guest:guest@nowhere.invalid:5672/sihub", user="court", password="court-dev"
    )

    assert isinstance(broker, AmqpBroker)
    assert broker.parameters.credentials.username == "court"
    assert broker.parameters.virtual_host == "sihub"


def test_management_client_defaults_to_the_broker_host_and_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SIHUB_MANAGEMENT_URL", raising=False)
    derived = ManagementClient.for_broker("amqp://ops:secret@rabbit:5672/sihub")
    explicit = ManagementClient.for_broker(
        "amqp://ops:secret@rabbit/sihub", "https://admin:pw@mgmt:443/rmq"
    )
    try:
        assert (derived.base_url, derived.username) == ("http://rabbit:15672", "ops")
        assert (explicit.base_url, explicit.username) == ("https://mgmt:443/rmq", "admin")
    finally:
        derived.close()
        explicit.close()
