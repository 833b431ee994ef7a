"""pika glue: properties, deliveries, URLs, error mapping and the reconnect policy."""

from __future__ import annotations

import copy
import re
from typing import Any
from urllib.parse import unquote, urlsplit

import pika
import pika.exceptions
import tenacity

from hub.bus.nodes import Nodes, first_node, node_urls
from hub.bus.types import AccessRefused, BusError, ConnectionLost, Delivery, Outgoing

#: AMQP's ``timestamp`` property has whole seconds; milliseconds travel in this header
#: (the name RabbitMQ's message-timestamp plugin uses) and are folded back on delivery.
TIMESTAMP_HEADER = "timestamp_in_ms"
#: ``delivery_mode`` of a persistent message.
PERSISTENT = 2
#: A dropped connection is reopened (before a publish, or a fetch): 5 attempts, 0.2 s doubling to 3 s.
RECONNECT_POLICY = tenacity.Retrying(
    retry=tenacity.retry_if_exception_type(ConnectionLost),
    stop=tenacity.stop_after_attempt(5),
    wait=tenacity.wait_exponential(multiplier=0.2, max=3.0),
    reraise=True,
)


def to_properties(message: Outgoing) -> pika.BasicProperties:
    """The AMQP properties of ``message``: persistent, with its ids and headers."""
    headers: dict[str, Any] = dict(message.headers)
    timestamp_seconds = None
    if message.timestamp_ms is not None:
        headers[TIMESTAMP_HEADER] = message.timestamp_ms
        timestamp_seconds = message.timestamp_ms // 1000
    return pika.BasicProperties(
        content_type=message.content_type,
        delivery_mode=PERSISTENT,
        headers=headers or None,
        message_id=message.message_id,
        user_id=message.user_id,
        correlation_id=message.correlation_id,
        timestamp=timestamp_seconds,
    )


def to_delivery(method: Any, properties: Any, body: bytes, delivery_tag: int) -> Delivery:
    """A ``Delivery`` from pika's ``Basic.Deliver`` and properties, under our own tag."""
    headers: dict[str, Any] = dict(properties.headers or {})
    timestamp_ms = headers.pop(TIMESTAMP_HEADER, None)
    if not isinstance(timestamp_ms, int):
        timestamp_ms = properties.timestamp * 1000 if properties.timestamp is not None else None
    count = headers.get("x-delivery-count", 0)
    return Delivery(
        body=body,
        exchange=method.exchange,
        routing_key=method.routing_key,
        headers=headers,
        message_id=properties.message_id,
        user_id=properties.user_id,
        correlation_id=properties.correlation_id,
        content_type=properties.content_type,
        timestamp_ms=timestamp_ms,
        redelivered=bool(method.redelivered),
        delivery_tag=delivery_tag,
        delivery_count=int(count) if isinstance(count, int) else 0,  # pika's long -> int
    )


def connection_parameters(
    url: str, user: str | None = None, password: str | None = None, vhost: str | None = None
) -> pika.URLParameters:
    """pika parameters for ``amqp://user:pass@host:port/vhost`` (vhost URL-quoted).

    Of a URL listing several nodes, the first node's (:func:`node_parameters` gives each).
    """
    parameters = pika.URLParameters(first_node(url))
    if user is not None or password is not None:
        current = parameters.credentials
        parameters.credentials = pika.PlainCredentials(
            user if user is not None else current.username,
            password if password is not None else current.password,
        )
    if vhost is not None:
        parameters.virtual_host = vhost
    return parameters


def node_parameters(
    url: str, user: str | None = None, password: str | None = None, vhost: str | None = None
) -> Nodes:
    """:func:`connection_parameters` of each node ``url`` lists (see :mod:`hub.bus.nodes`)."""
    return Nodes([connection_parameters(node, user, password, vhost) for node in node_urls(url)])


def url_vhost(url: str) -> str | None:
    """The vhost named in an AMQP URL's path, if any (``/`` is written ``%2F``)."""
    path = urlsplit(first_node(url)).path
    return unquote(path[1:]) if len(path) > 1 else None


def named(parameters: pika.ConnectionParameters, name: str) -> pika.ConnectionParameters:
    """A copy of ``parameters`` whose connection shows as ``name`` in the management UI."""
    named_parameters = copy.copy(parameters)
    named_parameters.client_properties = {
        **(parameters.client_properties or {}),
        "connection_name": name,
    }
    return named_parameters


def user_of(parameters: pika.ConnectionParameters) -> str:
    """The user name these parameters log in as."""
    return str(parameters.credentials.username)


def map_channel_error(error: pika.exceptions.ChannelClosed) -> BusError:
    """Our error for a channel the broker closed: 403 refused, 404 missing, others retryable."""
    text = f"{error.reply_code} {error.reply_text}"
    if error.reply_code in (403, 406):
        return AccessRefused(text)
    if error.reply_code == 404:
        return BusError(text)
    return ConnectionLost(text)


def map_connection_error(error: pika.exceptions.AMQPConnectionError) -> BusError:
    """Our error for a connection that failed or dropped: bad credentials are permanent."""
    if isinstance(
        error,
        pika.exceptions.ProbableAuthenticationError
        | pika.exceptions.AuthenticationError
        | pika.exceptions.ProbableAccessDeniedError,
    ):
        return AccessRefused(repr(error))
    return ConnectionLost(repr(error) or type(error).__name__)


def blocking_connection(parameters: pika.ConnectionParameters) -> pika.BlockingConnection:
    """A ``BlockingConnection`` to one node; pika's failure as ``ConnectionLost``/``AccessRefused``."""
    try:
        return pika.BlockingConnection(parameters)
    except pika.exceptions.AMQPConnectionError as error:
        raise map_connection_error(error) from error


def names_message(reply_text: str, message: Outgoing) -> bool:
    """Whether a channel-close reply text names ``message`` as the culprit.

    RabbitMQ names the exchange (403 write, 404), the routing key (403 topic) or the
    claimed ``user_id`` (406) of the message that made it close the channel.
    """
    if "user_id property set to" in reply_text:
        return message.user_id is not None and f"set to '{message.user_id}'" in reply_text
    topic = re.search(r"topic '(.*?)' in exchange", reply_text)
    if topic is not None and topic.group(1) != message.routing_key:
        return False
    return f"exchange '{message.exchange}'" in reply_text
