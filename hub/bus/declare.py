# mypy: disallow-untyped-calls=False
# (kombu ships py.typed but leaves its entities and Connection unannotated.)
"""Declaring a ``Topology`` on RabbitMQ, idempotently, and reading back what is there.

kombu declares: its ``Exchange`` and ``Queue`` entities over a py-amqp connection, and its
``Connection.ensure_connection`` waits with backoff for a broker that is still booting, since
``sihub topology`` often runs as a deployment's init step beside a starting RabbitMQ. pika
stays the transport of the hot paths (gate, relay, publishers, consumers): they need its
pipelined publisher confirms, which kombu does not offer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import kombu.exceptions
import pika
import pika.credentials
from kombu.connection import Connection
from kombu.entity import Exchange, Queue

from hub.bus.drift import Observed
from hub.bus.management import ManagementClient, ManagementError
from hub.bus.nodes import Nodes, where
from hub.bus.topology import Topology
from hub.bus.types import AccessRefused, BusError, ConnectionLost

#: The name the declaring connection shows in the management UI, unless the parameters name one.
CONNECTION_NAME = "sihub-topology"


class TopologyConflict(BusError):
    """The broker has an object of ours with other properties; redeclaring cannot fix it."""


@dataclass(frozen=True)
class ConnectRetry:
    """How long ``declare_topology`` waits for RabbitMQ (AMQP and management API) to answer.

    Up to ``1 + max_retries`` attempts of at most ``connect_timeout`` seconds each, sleeping
    ``interval_start`` seconds after the first failure, ``interval_step`` more after each
    next one, never more than ``interval_max``: by default about a minute of sleeps
    (1, 3, 5, 7, then 8 s), room to spare for a node's boot. ``max_retries=0`` tries once.
    """

    max_retries: int = 10
    interval_start: float = 1.0
    interval_step: float = 2.0
    interval_max: float = 8.0
    connect_timeout: float = 4.0

    def intervals(self) -> Iterator[float]:
        """The sleeps between attempts, as kombu's ``retry_over_time`` takes them."""
        interval = self.interval_start
        while True:
            yield min(interval, self.interval_max)
            interval += self.interval_step


def declare_topology(
    topology: Topology,
    parameters: pika.ConnectionParameters | Nodes,
    management: ManagementClient,
    report: Callable[[str], None] = lambda line: None,
    *,
    retry: ConnectRetry = ConnectRetry(),  # frozen: one shared default is safe
) -> None:
    """Create the vhost if missing, then policies, exchanges, queues and bindings.

    Policies go first so that no queue lives a moment without its delivery limit and
    dead-lettering. Exchanges, queues and bindings are declared with kombu over AMQP as
    the user of ``parameters`` (one with configure rights on ``sihub.*``); its host, port,
    credentials and TLS are used, its vhost is replaced by the topology's. While the
    management API or the AMQP port cannot be reached, each is retried as ``retry`` says,
    with a line to ``report`` per retry; of a cluster's nodes, each attempt tries every
    node in turn.

    Raises:
        TopologyConflict: an object exists with other properties (RabbitMQ's 406), e.g.
            a classic queue where a quorum queue belongs: it must be migrated by hand.
        AccessRefused: the user may not log in, use the vhost, or configure these names.
        ConnectionLost: RabbitMQ could not be reached within ``retry``, or dropped us.
    """
    vhost = topology.vhost
    if _vhost_exists(management, vhost, retry, report):
        report(f"vhost {vhost}: exists")
    else:
        management.create_vhost(vhost)
        report(f"vhost {vhost}: created")
    for policy in topology.policies:
        management.put_policy(vhost, policy)
        report(f"policy {policy.name} ({policy.pattern}): set {dict(policy.definition)}")
    nodes = Nodes.of(parameters)
    with _connect_any(nodes, vhost, retry, report) as connection:
        try:
            channel = connection.channel()
            for exchange in topology.exchanges:
                Exchange(exchange.name, exchange.type, channel, durable=True).declare()
                report(f"exchange {exchange.name} ({exchange.type}): declared")
            queues = {
                queue.name: Queue(
                    queue.name, channel=channel, durable=True, queue_arguments=dict(queue.arguments)
                )
                for queue in topology.queues
            }
            for queue in topology.queues:
                queues[queue.name].declare()
                report(
                    f"queue {queue.name} ({queue.arguments.get('x-queue-type', 'classic')}): declared"
                )
            for binding in topology.bindings:
                bound = queues.get(binding.queue)
                if bound is None:  # a queue declared elsewhere
                    bound = Queue(binding.queue, channel=channel)
                bound.bind_to(binding.exchange, binding.routing_key)
                report(
                    f"binding {binding.exchange} -> {binding.queue} [{binding.routing_key}]: declared"
                )
        except (kombu.exceptions.ChannelError, kombu.exceptions.ConnectionError) as error:
            raise _bus_error(error) from error
        except OSError as error:
            raise ConnectionLost(repr(error)) from error


def kombu_connection(
    parameters: pika.ConnectionParameters, vhost: str, connect_timeout: float
) -> Connection:
    """A kombu (py-amqp) connection, not yet open, to ``vhost`` as pika ``parameters`` say.

    Host, port, credentials (plain or EXTERNAL) and the connection name are carried over.
    TLS is verified against the system's CAs with the host name checked, as pika does for
    ``amqps://``; py-amqp cannot take a ready ``SSLContext``, so a custom one in
    ``parameters.ssl_options`` (client certificates, own CA) is not carried over.
    """
    credentials = parameters.credentials
    login: dict[str, Any]
    if isinstance(credentials, pika.credentials.ExternalCredentials):
        login = {"login_method": "EXTERNAL"}
    else:
        login = {"userid": credentials.username, "password": credentials.password}
    ssl: bool | dict[str, Any] = False
    if parameters.ssl_options is not None:
        ssl = {
            "context": {"check_hostname": parameters.ssl_options.context.check_hostname},
            "server_hostname": parameters.ssl_options.server_hostname or parameters.host,
        }
    client_properties = {"connection_name": CONNECTION_NAME, **(parameters.client_properties or {})}
    return Connection(
        hostname=parameters.host,
        port=parameters.port,
        virtual_host=vhost,
        ssl=ssl,
        connect_timeout=connect_timeout,
        heartbeat=0,
        transport="pyamqp",
        transport_options={"client_properties": client_properties},
        **login,
    )


def _connect_any(
    nodes: Nodes, vhost: str, retry: ConnectRetry, report: Callable[[str], None]
) -> Connection:
    """An open kombu connection to the first node that answers, retried as ``retry`` says.

    One node: kombu's ``ensure_connection`` retries it. Several: each attempt tries every
    node once (starting with the one that answered last), then sleeps as ``retry`` says.
    """
    if len(nodes.parameters) == 1:
        return _open(nodes.first, vhost, retry, report)
    once = replace(retry, max_retries=0)
    intervals = retry.intervals()
    retries = 0
    while True:
        try:
            return nodes.open(lambda parameters: _open(parameters, vhost, once, report))
        except ConnectionLost as error:
            if retries >= retry.max_retries:
                raise
            interval = next(intervals)
            report(f"{error}; retrying in {interval:g} s")
            time.sleep(interval)
            retries += 1


def _open(
    parameters: pika.ConnectionParameters, vhost: str, retry: ConnectRetry, report: Callable[[str], None]
) -> Connection:
    """An open kombu connection to one node (released again if it cannot be opened)."""
    connection = kombu_connection(parameters, vhost, retry.connect_timeout)
    try:
        _connect(connection, where(parameters), retry, report)
    except BaseException:
        connection.release()
        raise
    return connection


def _connect(
    connection: Connection, where: str, retry: ConnectRetry, report: Callable[[str], None]
) -> None:
    """Open ``connection``, retrying refused or dropped attempts; never a refused login."""

    def retrying(error: Exception, interval: float) -> None:
        report(f"broker {where}: {str(error) or type(error).__name__}; retrying in {interval:g} s")

    started = time.monotonic()
    try:
        connection.ensure_connection(
            errback=retrying,
            max_retries=retry.max_retries,
            interval_start=retry.interval_start,
            interval_step=retry.interval_step,
            interval_max=retry.interval_max,
        )
    except kombu.exceptions.OperationalError as error:
        raise ConnectionLost(
            f"RabbitMQ at {where} not reachable after {retry.max_retries + 1} attempt(s)"
            f" in {time.monotonic() - started:.1f} s: {error}"
        ) from error
    except (kombu.exceptions.ChannelError, kombu.exceptions.ConnectionError) as error:
        raise _bus_error(error) from error


def _vhost_exists(
    management: ManagementClient, vhost: str, retry: ConnectRetry, report: Callable[[str], None]
) -> bool:
    """``management.vhost_exists``, retried while the API cannot be reached (not on an answer)."""
    intervals = retry.intervals()
    retries = 0
    while True:
        try:
            return management.vhost_exists(vhost)
        except ManagementError as error:
            if error.__cause__ is None or retries >= retry.max_retries:  # an HTTP answer, or done
                raise
            interval = next(intervals)
            report(f"management API {management.base_url}: {error.__cause__!r}; retrying in {interval:g} s")
            time.sleep(interval)
            retries += 1


def _bus_error(error: Exception) -> BusError:
    """Our error for py-amqp's, as ``map_channel_error`` and ``map_connection_error`` map pika's.

    406 on a declare is a conflict; 403 (login, or configure refused) and 530 (vhost refused)
    are permanent refusals; 404 is a plain error; anything else is a lost connection.
    """
    code = getattr(error, "reply_code", None)
    text = f"{code} {getattr(error, 'reply_text', None) or error}"
    if code == 406:
        return TopologyConflict(text)
    if code in (403, 530):
        return AccessRefused(text)
    if code == 404:
        return BusError(text)
    return ConnectionLost(text if code else repr(error))


def observe(management: ManagementClient, vhost: str) -> Observed:
    """What the broker has in ``vhost``, for ``find_drift``."""
    return Observed(
        exchanges=management.exchanges(vhost),
        queues=management.queues(vhost),
        bindings=management.bindings(vhost),
        policies=management.policies(vhost),
    )
