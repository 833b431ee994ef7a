"""A broker's nodes: one RabbitMQ, or the nodes of a cluster, each connection trying them in turn.

``SIHUB_BROKER_URL`` (and every ``--broker-url``) may name several nodes of one
cluster, separated by commas::

    amqp://hub:secret@rabbit-1:5672/sihub,amqp://hub:secret@rabbit-2:5672/sihub

Every node must name the same user, password and vhost (they are one broker); hosts,
ports and TLS may differ. A connection starts with the node that last answered and
goes on to the next when a node does not answer (refused, unreachable, timed out, or
gone mid-handshake); ``ConnectionLost`` comes only when none answers. A refused login
or vhost (``AccessRefused``) is the same on every node and is raised at once. A
plain URL is a cluster of one, and behaves exactly as before.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import unquote, urlsplit

import pika

from hub.bus.types import ConnectionLost

T = TypeVar("T")

#: A comma that starts another node's URL (a comma inside a password is left alone).
_NODE_SEPARATOR = re.compile(r"\s*,\s*(?=amqps?://)")


def node_urls(url: str) -> list[str]:
    """The URL of each node ``url`` names, in order: one for a plain URL.

    Raises:
        ValueError: the nodes disagree on user, password or vhost, or one is not AMQP.
    """
    nodes = [part for part in _NODE_SEPARATOR.split(url.strip()) if part]
    if len(nodes) < 2:
        return nodes or [url]
    first = urlsplit(nodes[0])
    for node in nodes:
        parts = urlsplit(node)
        if parts.scheme not in ("amqp", "amqps"):
            raise ValueError(f"broker node {_safe(node)!r}: only amqp:// and amqps:// nodes can be listed")
        if (parts.username, parts.password, parts.path) != (first.username, first.password, first.path):
            raise ValueError(
                f"broker node {_safe(node)!r} names another user, password or vhost than "
                f"{_safe(nodes[0])!r}: the nodes of one cluster share them"
            )
    return nodes


def first_node(url: str) -> str:
    """The first node's URL (its user, vhost and host name the broker for what needs one)."""
    return node_urls(url)[0]


def _safe(url: str) -> str:
    """``url`` without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{unquote(parts.username or '')}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return parts._replace(netloc=netloc).geturl()


def where(parameters: pika.ConnectionParameters) -> str:
    """``host:port`` of a node, for messages."""
    return f"{parameters.host}:{parameters.port}"


@dataclass
class _Turn:
    """Which node to try first, shared by every copy of one ``Nodes``."""

    index: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class Nodes:
    """The connection parameters of each node, and which of them to try first.

    Each connection starts with the node that answered last. Copies made with
    :meth:`renamed` (one per publisher or consumer) share that memory, so a consumer
    reconnecting after a node died starts where the publisher already found a live
    one; a copy whose connection was lost (:meth:`lost`) moves the turn past its node.
    """

    def __init__(
        self, parameters: Sequence[pika.ConnectionParameters], _turn: _Turn | None = None
    ) -> None:
        if not parameters:
            raise ValueError("a broker needs at least one node")
        self.parameters = tuple(parameters)
        self._turn = _turn if _turn is not None else _Turn()
        self._connected: int | None = None  # the node this copy's connection opened on

    @classmethod
    def of(cls, nodes: Nodes | pika.ConnectionParameters) -> Nodes:
        """``nodes`` as they are, or one node's parameters as a cluster of one."""
        return nodes if isinstance(nodes, Nodes) else cls([nodes])

    @property
    def first(self) -> pika.ConnectionParameters:
        """The first node as listed (user, password and vhost are every node's)."""
        return self.parameters[0]

    def renamed(self, rename: Callable[[pika.ConnectionParameters], pika.ConnectionParameters]) -> Nodes:
        """The same nodes with ``rename`` applied to each (e.g. a connection name), sharing the turn."""
        return Nodes([rename(p) for p in self.parameters], self._turn)

    def in_turn(self) -> list[tuple[int, pika.ConnectionParameters]]:
        """Every node, starting with the one whose turn it is."""
        with self._turn.lock:
            start = self._turn.index % len(self.parameters)
        order = list(range(start, len(self.parameters))) + list(range(start))
        return [(index, self.parameters[index]) for index in order]

    def open(self, opener: Callable[[pika.ConnectionParameters], T]) -> T:
        """``opener`` on the first node that answers.

        Raises:
            ConnectionLost: no node answered (one node: its own error, unchanged).
            AccessRefused: the login or vhost was refused (not tried on the other nodes).
        """
        failures: list[str] = []
        last_error: ConnectionLost | None = None
        for index, parameters in self.in_turn():
            try:
                result = opener(parameters)
            except ConnectionLost as error:
                last_error = error
                failures.append(f"{where(parameters)}: {error}")
                continue
            with self._turn.lock:
                self._turn.index = index
            self._connected = index
            return result
        assert last_error is not None
        if len(self.parameters) == 1:
            raise last_error
        raise ConnectionLost(f"no node of the broker answered ({'; '.join(failures)})") from last_error

    def lost(self) -> None:
        """This copy's connection was lost: unless another copy moved on already, start after its node.

        A node that died is then not the first tried again (with its host gone, that
        would cost a connect timeout before the live node).
        """
        connected, self._connected = self._connected, None
        if connected is None:
            return
        with self._turn.lock:
            if self._turn.index == connected:
                self._turn.index = (connected + 1) % len(self.parameters)
