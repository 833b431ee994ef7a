"""Opening a ``Broker`` from a URL: ``memory://`` or ``amqp://user:pass@host:5672/vhost``.

The in-process broker is one per process, created on first use (never at import),
so that every component of ``sihub demo`` and of a test talks to the same queues.
"""

from __future__ import annotations

import threading
from urllib.parse import unquote, urlsplit

from hub.bus.amqp import AmqpBroker
from hub.bus.amqp_codec import node_parameters
from hub.bus.memory import MemoryBroker
from hub.bus.topology import Topology, default_topology
from hub.bus.types import Broker

#: User of a ``memory://`` connection that names none: the hub.
DEFAULT_MEMORY_USER = "hub"

_memory_lock = threading.Lock()
_memory: MemoryBroker | None = None


def memory_broker() -> MemoryBroker:
    """The process-wide in-process broker, declared from ``default_topology()`` on first use."""
    global _memory
    with _memory_lock:
        if _memory is None:
            _memory = MemoryBroker(default_topology())
        return _memory


def reset_memory_broker(topology: Topology | None = None) -> MemoryBroker:
    """Replace the process-wide in-process broker with an empty one (for tests)."""
    global _memory
    with _memory_lock:
        _memory = MemoryBroker(topology or default_topology())
        return _memory


def open_broker(
    url: str, user: str | None = None, password: str | None = None, connection_name: str = "sihub"
) -> Broker:
    """A ``Broker`` for ``url``; ``user``/``password`` override those in the URL.

    ``memory://`` (or ``memory://tax@``) connects to the in-process broker as that
    user (default ``hub``; passwords are not checked). ``amqp://`` and ``amqps://``
    connect to RabbitMQ, the vhost URL-quoted in the path (``%2F`` for ``/``); several
    nodes of a cluster may be listed, separated by commas (:mod:`hub.bus.nodes`).
    """
    scheme = urlsplit(url).scheme
    if scheme == "memory":
        name = user or unquote(urlsplit(url).username or "") or DEFAULT_MEMORY_USER
        return memory_broker().connect(name)
    if scheme in ("amqp", "amqps"):
        return AmqpBroker(node_parameters(url, user, password), connection_name)
    raise ValueError(f"unsupported broker URL scheme {scheme!r}: use memory:// or amqp://")
