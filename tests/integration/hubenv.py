"""A running hub for scenario tests, on the in-process broker or on the real RabbitMQ.

The same scenarios run on both (DESIGN: one suite, two brokers): ``memory`` uses
``memory://`` and SQLite; ``rabbitmq`` uses a scratch vhost loaded with the
least-privilege definitions (the hub as ``hub``, departments as themselves) and a
scratch PostgreSQL database.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contracts import AnyEnvelope, parse
from hub.bus.factory import open_broker, reset_memory_broker
from hub.bus.management import ManagementClient
from hub.bus.topology import default_topology, to_definitions
from hub.bus.types import Broker, Delivery, Outgoing
from hub.config import load_settings
from hub.runtime import HubRuntime

EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "examples"


def examples_dir() -> Path:
    """Where the shared example messages are (beside the repository, or ``SIHUB_EXAMPLES_DIR``)."""
    import os

    return Path(os.environ.get("SIHUB_EXAMPLES_DIR", EXAMPLES))


@dataclass
class HubEnv:
    """A hub plus the means to act as any department."""

    kind: str
    url_for: Callable[[str], str]  # department code → broker URL as that department
    runtime: HubRuntime
    brokers: dict[str, Broker] = field(default_factory=dict)

    def broker(self, code: str) -> Broker:
        if code not in self.brokers:
            self.brokers[code] = open_broker(self.url_for(code))
        return self.brokers[code]

    def send(
        self, body: bytes, *, as_: str, routing_key: str | None = None, user_id: str | None = "same"
    ) -> None:
        """Publish ``body`` to ``sihub.in`` as department ``as_`` (user_id = ``as_`` unless given)."""
        key = routing_key
        if key is None:
            head = json.loads(body)
            key = f"{as_}.{head.get('type', 'unknown')}"
        message = Outgoing("sihub.in", key, body, user_id=as_ if user_id == "same" else user_id)
        self.broker(as_).publisher().publish([message])

    def send_envelope(self, envelope: AnyEnvelope) -> None:
        self.send(envelope.to_json(), as_=envelope.source.value)

    def drain(self, code: str, settle: float = 0.5) -> list[Delivery]:
        """Everything waiting in ``sihub.dept.<code>`` (acked)."""
        return self.drain_queue(f"sihub.dept.{code}", code, settle)

    def drain_queue(self, queue: str, as_: str, settle: float = 0.5) -> list[Delivery]:
        consumer = self.broker(as_).consumer(queue, prefetch=500)
        found: list[Delivery] = []
        try:
            while True:
                batch = consumer.fetch(500, settle)
                if not batch:
                    break
                found.extend(batch)
                consumer.ack([d.delivery_tag for d in batch])
        finally:
            consumer.close()
        return found

    def case(self, case_id: str) -> Any:
        with self.runtime.store.transaction() as tx:
            return tx.load_case(case_id)

    def wait_for(
        self, predicate: Callable[[], bool], timeout: float = 20.0, what: str = "condition"
    ) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.05)

    def wait_idle(self, timeout: float = 20.0) -> None:
        """Until the hub's inbound queue is empty and its outbox drained."""

        def idle() -> bool:
            return (
                self.broker("hub").queue_depth("sihub.hub.in") == 0
                and self.runtime.store.outbox_backlog()[0] == 0
            )

        self.wait_for(idle, timeout, "the hub to go idle")
        time.sleep(0.2)

    def close(self) -> None:
        for broker in self.brokers.values():
            broker.close()


def example(name: str) -> bytes:
    """The bytes of one example message."""
    return (examples_dir() / f"{name}.json").read_bytes()


def envelope(name: str) -> AnyEnvelope:
    return parse(example(name))


@contextmanager
def memory_env(tmp_path: Path, **settings: Any) -> Iterator[HubEnv]:
    reset_memory_broker()
    config = load_settings(
        None,
        broker_url="memory://",
        database_url=f"sqlite:///{tmp_path / 'ledger.db'}",
        retry_delay_seconds=0.2,
        scheduler_interval_seconds=0.2,
        **settings,
    )
    runtime = HubRuntime(config)
    env = HubEnv("memory", lambda code: f"memory://{code}@", runtime)
    runtime.start()
    try:
        yield env
    finally:
        runtime.stop()
        env.close()


@contextmanager
def rabbit_env(
    management: ManagementClient,
    vhost: str,
    url: Callable[..., str],
    database_url: str,
    **settings: Any,
) -> Iterator[HubEnv]:
    management.create_vhost(vhost)
    management.import_definitions(to_definitions(default_topology(vhost=vhost), with_users=True))
    config = load_settings(
        None,
        broker_url=url(vhost, "hub", "hub-dev"),
        database_url=database_url,
        retry_delay_seconds=0.2,
        scheduler_interval_seconds=0.2,
        **settings,
    )
    runtime = HubRuntime(config)
    env = HubEnv("rabbitmq", lambda code: url(vhost, code, f"{code}-dev"), runtime)
    runtime.start()
    try:
        env.wait_for(runtime.ready, 15, "the hub to connect")
        yield env
    finally:
        runtime.stop()
        env.close()
        management.delete_vhost(vhost)


def hub_env(request: Any, tmp_path: Path, label: str, **settings: Any) -> Iterator[HubEnv]:
    """The body of a two-broker fixture: ``request.param`` is ``memory`` or ``rabbitmq``.

    ``rabbitmq`` uses the session fixtures ``rabbit_management`` and ``rabbit_url`` of
    ``tests/integration/conftest.py`` and a scratch PostgreSQL database.
    """
    if request.param == "memory":
        with memory_env(tmp_path, **settings) as env:
            yield env
        return
    import uuid

    from tests.support.databases import scratch_postgres

    management: ManagementClient = request.getfixturevalue("rabbit_management")
    url: Callable[..., str] = request.getfixturevalue("rabbit_url")
    vhost = f"sihub-test-{label}-{uuid.uuid4().hex[:8]}"
    with (
        scratch_postgres(label) as database_url,
        rabbit_env(management, vhost, url, database_url, **settings) as env,
    ):
        yield env
