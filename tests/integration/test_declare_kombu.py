"""``declare_topology`` (kombu) against the real RabbitMQ, in scratch vhosts.

What is declared is read back over the management API; conflicts, refusals and an
unreachable broker must surface as the transport's errors, within the retry budget.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Iterator
from typing import Any

import pika
import pika.credentials
import pytest

from hub.bus.amqp_codec import connection_parameters
from hub.bus.declare import (
    CONNECTION_NAME,
    ConnectRetry,
    TopologyConflict,
    declare_topology,
    kombu_connection,
    observe,
)
from hub.bus.drift import find_drift
from hub.bus.management import ManagementClient, ManagementError
from hub.bus.topology import (
    OUT_EXCHANGE,
    Topology,
    default_topology,
    department_queue,
    to_definitions,
)
from hub.bus.types import AccessRefused, ConnectionLost
from tests.support.network import TcpForwarder, free_port

pytestmark = pytest.mark.integration

#: Short sleeps, so that a test of the retries takes a second, not a minute.
FAST = ConnectRetry(max_retries=2, interval_start=0.2, interval_step=0.2, interval_max=1.0)


def _state(management: ManagementClient, vhost: str) -> dict[str, Any]:
    """What a redeclare must leave alone: objects, their properties, and the messages in them."""
    return {
        "exchanges": sorted(
            (e["name"], e["type"], e["durable"], e["arguments"])
            for e in management.exchanges(vhost)
            if e["name"].startswith("sihub.")
        ),
        "queues": sorted(
            (q["name"], q["durable"], q["arguments"]) for q in management.queues(vhost)
        ),
        "bindings": sorted(
            (b["source"], b["destination"], b["routing_key"])
            for b in management.bindings(vhost)
            if b["source"]
        ),
    }


def _message_count(url: str, queue: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        return int(connection.channel().queue_declare(queue, passive=True).method.message_count)
    finally:
        connection.close()


@pytest.fixture(scope="module")
def declared(
    scratch_vhost: str, rabbit_management: ManagementClient, rabbit_url: Callable[..., str]
) -> tuple[Topology, list[str]]:
    """The default topology declared once in the module's vhost, with what it reported."""
    topology = default_topology(scratch_vhost)
    lines: list[str] = []
    declare_topology(
        topology, connection_parameters(rabbit_url(scratch_vhost)), rabbit_management, lines.append
    )
    return topology, lines


@pytest.fixture
def fresh_vhost(
    rabbit_management: ManagementClient, scratch_name: Callable[[str], str]
) -> Iterator[str]:
    """A vhost name no one uses, deleted afterwards (whoever created it)."""
    name = scratch_name("declare")
    yield name
    rabbit_management.delete_vhost(name)


def test_declares_durable_exchanges_quorum_queues_and_bindings(
    declared: tuple[Topology, list[str]], rabbit_management: ManagementClient
) -> None:
    topology, lines = declared
    vhost = topology.vhost
    exchanges = {e["name"]: e for e in rabbit_management.exchanges(vhost)}
    for spec in topology.exchanges:
        assert exchanges[spec.name]["type"] == spec.type
        assert exchanges[spec.name]["durable"] is True
        assert exchanges[spec.name]["auto_delete"] is False

    queues = {q["name"]: q for q in rabbit_management.queues(vhost)}
    assert set(queues) == {q.name for q in topology.queues}
    for queue in queues.values():
        assert queue["type"] == "quorum"
        assert queue["durable"] is True and queue["auto_delete"] is False
        assert queue["arguments"] == {"x-queue-type": "quorum"}

    bindings = {
        (b["source"], b["destination"], b["routing_key"])
        for b in rabbit_management.bindings(vhost)
        if b["source"]  # not the default exchange's implicit ones
    }
    assert bindings == {(b.exchange, b.queue, b.routing_key) for b in topology.bindings}
    assert (OUT_EXCHANGE, department_queue("hrss"), "hrss.#") in bindings

    assert find_drift(topology, observe(rabbit_management, vhost)) == []
    assert lines[0] == f"vhost {vhost}: exists"
    assert "exchange sihub.in (topic): declared" in lines
    assert f"queue {department_queue('tax')} (quorum): declared" in lines
    assert f"binding {OUT_EXCHANGE} -> {department_queue('tax')} [tax.#]: declared" in lines
    assert len(lines) == 1 + len(topology.policies) + len(topology.exchanges) + len(
        topology.queues
    ) + len(topology.bindings)


def test_redeclaring_changes_nothing_and_keeps_the_messages(
    declared: tuple[Topology, list[str]],
    rabbit_management: ManagementClient,
    rabbit_url: Callable[..., str],
) -> None:
    topology, first = declared
    url = rabbit_url(topology.vhost)
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.confirm_delivery()
    channel.basic_publish(OUT_EXCHANGE, "police.case.routed", b"{}", mandatory=True)
    connection.close()
    before = _state(rabbit_management, topology.vhost)

    again: list[str] = []
    declare_topology(topology, connection_parameters(url), rabbit_management, again.append)

    assert again == first
    assert _state(rabbit_management, topology.vhost) == before
    assert _message_count(url, department_queue("police")) == 1


def test_a_classic_queue_where_a_quorum_queue_belongs_is_a_conflict(
    fresh_vhost: str, rabbit_management: ManagementClient, rabbit_url: Callable[..., str]
) -> None:
    rabbit_management.create_vhost(fresh_vhost)
    url = rabbit_url(fresh_vhost)
    connection = pika.BlockingConnection(pika.URLParameters(url))
    connection.channel().queue_declare(department_queue("petition"), durable=True)
    connection.close()

    with pytest.raises(TopologyConflict, match="406 PRECONDITION_FAILED") as raised:
        declare_topology(default_topology(fresh_vhost), connection_parameters(url), rabbit_management)
    assert "x-queue-type" in str(raised.value)
    assert not isinstance(raised.value, AccessRefused)
    [queue] = [
        q for q in rabbit_management.queues(fresh_vhost) if q["name"] == department_queue("petition")
    ]
    assert queue["type"] == "classic"  # left for a human to migrate


@pytest.fixture(scope="module")
def users_vhost(
    rabbit_management: ManagementClient, scratch_name: Callable[[str], str]
) -> Iterator[str]:
    """A vhost with the topology's users (global, development passwords) and permissions."""
    name = scratch_name("declare-users")
    rabbit_management.import_definitions(to_definitions(default_topology(name), with_users=True))
    yield name
    rabbit_management.delete_vhost(name)


def test_a_user_without_configure_permission_is_refused(
    users_vhost: str, rabbit_management: ManagementClient, rabbit_url: Callable[..., str]
) -> None:
    # Departments have configure "^$": they consume what sihub topology declared.
    parameters = connection_parameters(rabbit_url(users_vhost, "tax", "tax-dev"))
    with pytest.raises(AccessRefused, match="403 ACCESS_REFUSED - access to exchange 'sihub.in'"):
        declare_topology(default_topology(users_vhost), parameters, rabbit_management, retry=FAST)


def test_the_hub_user_may_declare(
    users_vhost: str, rabbit_management: ManagementClient, rabbit_url: Callable[..., str]
) -> None:
    parameters = connection_parameters(rabbit_url(users_vhost, "hub", "hub-dev"))
    declare_topology(default_topology(users_vhost), parameters, rabbit_management)
    assert find_drift(default_topology(users_vhost), observe(rabbit_management, users_vhost)) == []


@pytest.mark.parametrize(
    ("user", "password", "vhost", "refusal"),
    [
        ("tax", "wrong", None, "403 ACCESS_REFUSED - Login was refused"),
        ("tax", "tax-dev", "elsewhere", "530 NOT_ALLOWED - access to vhost"),
    ],
    ids=["bad-password", "no-access-to-vhost"],
)
def test_a_refused_login_fails_at_once_without_retrying(
    user: str,
    password: str,
    vhost: str | None,
    refusal: str,
    users_vhost: str,
    rabbit_management: ManagementClient,
    rabbit_url: Callable[..., str],
    scratch_name: Callable[[str], str],
) -> None:
    target = scratch_name("declare-refused") if vhost else users_vhost
    parameters = connection_parameters(rabbit_url(users_vhost, user, password))
    slow = ConnectRetry(max_retries=3, interval_start=5.0)  # a retry would show as 5 s
    lines: list[str] = []
    started = time.monotonic()
    try:
        with pytest.raises(AccessRefused, match=refusal):
            declare_topology(
                default_topology(target), parameters, rabbit_management, lines.append, retry=slow
            )
    finally:
        if vhost:
            rabbit_management.delete_vhost(target)
    assert time.monotonic() - started < 2.0
    assert not [line for line in lines if "retrying" in line]


def test_an_unreachable_broker_fails_after_the_retries_with_a_clear_error(
    scratch_vhost: str, rabbit_management: ManagementClient, rabbit_url: Callable[..., str]
) -> None:
    port = free_port()
    parameters = connection_parameters(rabbit_url(scratch_vhost))
    parameters.port = port
    lines: list[str] = []
    started = time.monotonic()
    with pytest.raises(ConnectionLost) as raised:
        declare_topology(
            default_topology(scratch_vhost), parameters, rabbit_management, lines.append, retry=FAST
        )
    elapsed = time.monotonic() - started
    assert 0.6 <= elapsed < 5.0  # slept 0.2 + 0.4
    assert str(raised.value).startswith(f"RabbitMQ at 127.0.0.1:{port} not reachable after 3 attempt(s)")
    assert "Connection refused" in str(raised.value)
    retries = [line for line in lines if "retrying" in line]
    assert retries == [
        f"broker 127.0.0.1:{port}: [Errno 111] Connection refused; retrying in 0.2 s",
        f"broker 127.0.0.1:{port}: [Errno 111] Connection refused; retrying in 0.4 s",
    ]


def test_an_unreachable_management_api_is_retried_then_fails(
    scratch_vhost: str, rabbit_url: Callable[..., str]
) -> None:
    management = ManagementClient(f"http://127.0.0.1:{free_port()}", "guest", "guest")
    lines: list[str] = []
    try:
        with pytest.raises(ManagementError):
            declare_topology(
                default_topology(scratch_vhost),
                connection_parameters(rabbit_url(scratch_vhost)),
                management,
                lines.append,
                retry=FAST,
            )
    finally:
        management.close()
    assert len(lines) == 2 and all("ConnectError" in line and "retrying" in line for line in lines)


def test_a_broker_that_comes_up_late_is_waited_for(
    declared: tuple[Topology, list[str]],
    rabbit_management: ManagementClient,
    rabbit_url: Callable[..., str],
) -> None:
    topology, first = declared
    parameters = connection_parameters(rabbit_url(topology.vhost))
    late = TcpForwarder((parameters.host, parameters.port), delay=1.0)
    parameters.port = late.port
    lines: list[str] = []
    retry = ConnectRetry(max_retries=20, interval_start=0.25, interval_step=0.0)
    try:
        declare_topology(topology, parameters, rabbit_management, lines.append, retry=retry)
    finally:
        late.close()
    retries = [line for line in lines if "retrying" in line]
    assert 2 <= len(retries) <= 8, lines
    assert [line for line in lines if line not in retries] == first


def test_kombu_connection_carries_credentials_vhost_name_and_tls() -> None:
    plain = kombu_connection(
        connection_parameters("amqp://u%40x:p%3Aw@rabbit:5673/%2F"), "sihub", 3.0
    )
    assert (plain.hostname, plain.port, plain.userid, plain.password) == (
        "rabbit",
        5673,
        "u@x",
        "p:w",
    )
    assert (plain.virtual_host, plain.ssl, plain.connect_timeout) == ("sihub", False, 3.0)
    assert plain.transport_options["client_properties"] == {"connection_name": CONNECTION_NAME}

    secure = connection_parameters("amqps://u:p@rabbit.example/sihub")
    secure.client_properties = {"connection_name": "mine"}
    tls = kombu_connection(secure, "sihub", 3.0)
    assert tls.port == 5671
    assert tls.ssl == {"context": {"check_hostname": True}, "server_hostname": "rabbit.example"}
    assert tls.transport_options["client_properties"] == {"connection_name": "mine"}
    assert isinstance(secure.ssl_options, pika.SSLOptions)
    assert secure.ssl_options.context.verify_mode == ssl.CERT_REQUIRED

    external = connection_parameters("amqp://rabbit/sihub")
    external.credentials = pika.credentials.ExternalCredentials()
    assert kombu_connection(external, "sihub", 3.0).login_method == "EXTERNAL"
