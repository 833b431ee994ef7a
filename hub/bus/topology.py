"""The RabbitMQ layout of DESIGN §4 as plain data: one source of truth.

``sihub topology`` declares it, the in-process broker is built from it, and
``deploy/rabbitmq/definitions.json`` is rendered from it by ``to_definitions``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from contracts.codes import QUEUE_DEPARTMENTS, Department

IN_EXCHANGE = "sihub.in"
OUT_EXCHANGE = "sihub.out"
QUARANTINE_EXCHANGE = "sihub.quarantine"
DEAD_LETTER_EXCHANGE = "sihub.dlx"
HUB_QUEUE = "sihub.hub.in"
QUARANTINE_QUEUE = "sihub.quarantine"
DEFAULT_VHOST = "sihub"
#: Deliveries after the first before a work queue dead-letters a message.
DEFAULT_DELIVERY_LIMIT = 20
#: Large enough never to bind in practice; with ``reject-publish`` a full quarantine nacks.
DEFAULT_QUARANTINE_MAX_LENGTH = 1_000_000

ExchangeType = Literal["topic", "fanout", "direct", "headers"]
PolicyValue = str | int


def department_queue(code: str) -> str:
    """The queue a department consumes: ``sihub.dept.<code>``."""
    return f"sihub.dept.{code}"


def _quorum() -> Mapping[str, Any]:
    return MappingProxyType({"x-queue-type": "quorum"})


@dataclass(frozen=True)
class ExchangeSpec:
    """A durable exchange."""

    name: str
    type: ExchangeType


@dataclass(frozen=True)
class QueueSpec:
    """A durable queue; quorum unless the arguments say otherwise."""

    name: str
    arguments: Mapping[str, Any] = field(default_factory=_quorum)


@dataclass(frozen=True)
class BindingSpec:
    """A binding of a queue to an exchange with a binding key."""

    exchange: str
    queue: str
    routing_key: str = ""


@dataclass(frozen=True)
class PolicySpec:
    """A vhost policy; RabbitMQ applies the highest-priority one whose pattern matches."""

    name: str
    pattern: str
    definition: Mapping[str, PolicyValue]
    apply_to: Literal["queues", "exchanges", "all"] = "queues"
    priority: int = 0

    def applies_to_queue(self, queue: str) -> bool:
        """Whether RabbitMQ would apply this policy to ``queue`` (unanchored regex search)."""
        return self.apply_to in ("queues", "all") and re.search(self.pattern, queue) is not None


@dataclass(frozen=True)
class TopicPermission:
    """Regexes over routing keys for one topic exchange (``topic_permissions``)."""

    exchange: str
    write: str
    read: str


@dataclass(frozen=True)
class UserSpec:
    """A RabbitMQ user with its permissions in the topology's vhost."""

    name: str
    password: str
    configure: str
    write: str
    read: str
    topic_permissions: tuple[TopicPermission, ...] = ()
    tags: str = ""

    def may_write(self, exchange: str) -> bool:
        """Whether publishing to ``exchange`` passes the resource (write) permission."""
        return re.search(self.write, exchange) is not None

    def may_read(self, queue: str) -> bool:
        """Whether consuming ``queue`` passes the resource (read) permission."""
        return re.search(self.read, queue) is not None

    def may_publish_key(self, exchange: str, routing_key: str) -> bool:
        """Whether ``routing_key`` passes the topic permissions of ``exchange`` (none: all pass)."""
        rules = [rule for rule in self.topic_permissions if rule.exchange == exchange]
        return all(re.search(rule.write, routing_key) is not None for rule in rules)


@dataclass(frozen=True)
class Topology:
    """Everything declared in one vhost, plus the users that may use it."""

    vhost: str
    exchanges: tuple[ExchangeSpec, ...]
    queues: tuple[QueueSpec, ...]
    bindings: tuple[BindingSpec, ...]
    policies: tuple[PolicySpec, ...]
    users: tuple[UserSpec, ...]

    def user(self, name: str) -> UserSpec | None:
        """The user called ``name``, if the topology defines one."""
        return next((user for user in self.users if user.name == name), None)

    def policy_for(self, queue: str) -> PolicySpec | None:
        """The policy RabbitMQ would apply to ``queue``: the highest priority that matches."""
        matching = [policy for policy in self.policies if policy.applies_to_queue(queue)]
        return max(matching, key=lambda policy: policy.priority, default=None)


def _department_user(code: str) -> UserSpec:
    return UserSpec(
        name=code,
        password=f"{code}-dev",
        configure="^$",
        write=rf"^{re.escape(IN_EXCHANGE)}$",
        read=rf"^{re.escape(department_queue(code))}$",
        # Routing keys are "<source>.<type>": a department may only speak as itself.
        topic_permissions=(
            TopicPermission(IN_EXCHANGE, write=rf"^{re.escape(code)}\.", read="^$"),
        ),
    )


def default_topology(
    vhost: str = DEFAULT_VHOST,
    delivery_limit: int = DEFAULT_DELIVERY_LIMIT,
    quarantine_max_length: int = DEFAULT_QUARANTINE_MAX_LENGTH,
) -> Topology:
    """The layout of DESIGN §4 for ``vhost``."""
    codes = [str(code) for code in QUEUE_DEPARTMENTS]
    work_queues = [HUB_QUEUE, *(department_queue(code) for code in codes)]
    return Topology(
        vhost=vhost,
        exchanges=(
            ExchangeSpec(IN_EXCHANGE, "topic"),
            ExchangeSpec(OUT_EXCHANGE, "topic"),
            ExchangeSpec(QUARANTINE_EXCHANGE, "fanout"),
            ExchangeSpec(DEAD_LETTER_EXCHANGE, "fanout"),
        ),
        queues=tuple(QueueSpec(name) for name in [*work_queues, QUARANTINE_QUEUE]),
        bindings=(
            BindingSpec(IN_EXCHANGE, HUB_QUEUE, "#"),
            *(BindingSpec(OUT_EXCHANGE, department_queue(code), f"{code}.#") for code in codes),
            BindingSpec(QUARANTINE_EXCHANGE, QUARANTINE_QUEUE),
            BindingSpec(DEAD_LETTER_EXCHANGE, QUARANTINE_QUEUE),
        ),
        policies=(
            PolicySpec(
                name="sihub-work",
                # A pattern, not a list: a queue added for a new department is covered too.
                pattern=r"^sihub\.(hub\.in|dept\..+)$",
                # At-least-once dead-lettering needs all three of DLX, strategy and
                # reject-publish; without any one RabbitMQ silently falls back to at-most-once.
                definition=MappingProxyType(
                    {
                        "delivery-limit": delivery_limit,
                        "dead-letter-exchange": DEAD_LETTER_EXCHANGE,
                        "dead-letter-strategy": "at-least-once",
                        "overflow": "reject-publish",
                    }
                ),
            ),
            PolicySpec(
                name="sihub-quarantine",
                pattern=rf"^{re.escape(QUARANTINE_QUEUE)}$",
                # No DLX and no delivery limit: the quarantine never dead-letters (into itself).
                definition=MappingProxyType(
                    {
                        "overflow": "reject-publish",
                        "max-length": quarantine_max_length,
                    }
                ),
            ),
        ),
        users=(
            UserSpec(
                name=str(Department.HUB),
                password="hub-dev",
                configure=r"^sihub\..*",
                write=r"^sihub\..*",
                read=r"^sihub\..*",
            ),
            *(_department_user(code) for code in codes),
        ),
    )


def to_definitions(topology: Topology, with_users: bool = True) -> dict[str, Any]:
    """The topology in RabbitMQ's definitions-file format (``load_definitions``)."""
    vhost = topology.vhost
    users = topology.users if with_users else ()
    return {
        "users": [{"name": u.name, "password": u.password, "tags": u.tags} for u in users],
        "vhosts": [{"name": vhost}],
        "permissions": [
            {
                "user": u.name,
                "vhost": vhost,
                "configure": u.configure,
                "write": u.write,
                "read": u.read,
            }
            for u in users
        ],
        "topic_permissions": [
            {
                "user": u.name,
                "vhost": vhost,
                "exchange": t.exchange,
                "write": t.write,
                "read": t.read,
            }
            for u in users
            for t in u.topic_permissions
        ],
        "parameters": [],
        "global_parameters": [],
        "policies": [
            {
                "vhost": vhost,
                "name": p.name,
                "pattern": p.pattern,
                "apply-to": p.apply_to,
                "definition": dict(p.definition),
                "priority": p.priority,
            }
            for p in topology.policies
        ],
        "exchanges": [
            {
                "name": e.name,
                "vhost": vhost,
                "type": e.type,
                "durable": True,
                "auto_delete": False,
                "internal": False,
                "arguments": {},
            }
            for e in topology.exchanges
        ],
        "queues": [
            {
                "name": q.name,
                "vhost": vhost,
                "durable": True,
                "auto_delete": False,
                "arguments": dict(q.arguments),
            }
            for q in topology.queues
        ],
        "bindings": [
            {
                "source": b.exchange,
                "vhost": vhost,
                "destination": b.queue,
                "destination_type": "queue",
                "routing_key": b.routing_key,
                "arguments": {},
            }
            for b in topology.bindings
        ],
    }


def render_definitions(topology: Topology, with_users: bool = True) -> str:
    """The definitions file as written to ``deploy/rabbitmq/definitions.json``."""
    return json.dumps(to_definitions(topology, with_users), indent=2, ensure_ascii=False) + "\n"
